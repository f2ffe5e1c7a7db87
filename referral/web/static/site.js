// The few lines of script the pages use; they work without it. No inline script: the CSP forbids it.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(field.value);
      const label = button.textContent;
      button.textContent = button.dataset.copied;
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }
  const hint = document.querySelector("[data-countdown]");
  const resend = document.querySelector("[data-wait]");
  if (hint && resend) {
    let left = Number(hint.dataset.countdown);
    const template = hint.textContent.replace(String(left), "{n}");
    const tick = setInterval(() => {
      left -= 1;
      if (left <= 0) { clearInterval(tick); hint.remove(); resend.disabled = false; return; }
      hint.textContent = template.replace("{n}", String(left));
    }, 1000);
  }
});
