() => {
  // Gradio cannot skip an event whose input is empty: an empty Send would reach the server and come
  // back as an error over every pane. Pressing Send or Enter on an empty box shows a hint instead.
  const HINT = "Type a message first.";
  const box = () => document.querySelector("#message textarea");
  const blank = () => !box() || !box().value.trim();
  const hint = () => document.querySelector("#message-hint .hint");
  const usual = hint()?.textContent || "";
  const warn = (event) => {
    event.preventDefault();
    event.stopImmediatePropagation();
    const el = hint();
    if (el) { el.textContent = HINT; el.classList.add("warn"); }
    box()?.focus();
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest?.("#send") && blank()) warn(event);
  }, true);
  for (const type of ["keydown", "keypress"]) {
    document.addEventListener(type, (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing
          && event.target.closest?.("#message") && blank()) warn(event);
    }, true);
  }
  document.addEventListener("input", (event) => {
    const el = hint();
    if (el && event.target.closest?.("#message") && el.classList.contains("warn")) {
      el.textContent = usual || "Enter sends · Shift+Enter adds a line";
      el.classList.remove("warn");
    }
  }, true);

  // The vote bar's keys and click-to-rank (ui/vote.py KEYS): Gradio has no keyboard shortcuts or clickable
  // columns, so these few lines only click the real buttons; the server decides every vote.
  const VOTE_KEYS = {
    a: ["#vote-a", "#pane-0-rank"], arrowleft: ["#vote-a"], b: ["#vote-b", "#pane-1-rank"], arrowright: ["#vote-b"],
    t: ["#vote-tie"], x: ["#vote-bothbad"], c: ["#pane-2-rank"], d: ["#pane-3-rank"], u: ["#rank-undo"],
  };
  const shown = (selector) => {
    const el = document.querySelector(selector);
    return el && el.offsetParent !== null && !el.disabled ? el : null;
  };
  const typing = (el) => el.closest?.("input, textarea, select, [contenteditable]:not([contenteditable='false'])");
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || event.isComposing) return;
    if (typing(event.target)) return;
    const button = (VOTE_KEYS[event.key.toLowerCase()] || []).map(shown).find(Boolean);
    if (button) { event.preventDefault(); button.click(); }
  });
  document.addEventListener("click", (event) => {
    const pane = event.target.closest?.(".pane");
    if (!pane || !event.target.closest(".pane-chat, .pane-head")) return;
    if (event.target.closest("button, a, input, textarea, select, summary") || String(getSelection())) return;
    shown(`#${pane.id}-rank`)?.click();
  });
}
