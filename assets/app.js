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
}
