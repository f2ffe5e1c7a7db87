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
  for (const button of document.querySelectorAll("[data-share]")) {
    if (!navigator.share) continue; // the browser's share sheet, where it has one
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.share({ url: button.dataset.share, text: button.dataset.shareText }).catch(() => {});
    });
  }
  // Dates in the reader's own time zone and the page's language; without the script they stay the UTC date.
  // A <time data-moment> (the console's) keeps its time of day too.
  const dates = new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "medium" });
  const moments = new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" });
  for (const time of document.querySelectorAll("time[datetime]")) {
    const at = new Date(time.dateTime);
    const format = "moment" in time.dataset ? moments : dates;
    if (!Number.isNaN(at.getTime()) && time.dateTime.length > 10) time.textContent = format.format(at);
  }
  const hint = document.querySelector("[data-countdown]");
  const resend = document.querySelector("[data-wait]");
  if (hint && resend) {
    let left = Number(hint.dataset.countdown);
    const template = hint.textContent.replace(String(left), "{n}");
    resend.disabled = left > 0;
    const tick = setInterval(() => {
      left -= 1;
      if (left <= 0) { clearInterval(tick); hint.remove(); resend.disabled = false; return; }
      hint.textContent = template.replace("{n}", String(left));
    }, 1000);
  }
  // A refusal's "Try again in N s" beside a form counts down too, instead of standing still.
  for (const wait of document.querySelectorAll("[data-retry]")) {
    let left = Number(wait.dataset.retry);
    const template = wait.textContent.replace(String(left), "{n}");
    const tick = setInterval(() => {
      left -= 1;
      if (left <= 0) { clearInterval(tick); wait.remove(); return; }
      wait.textContent = template.replace("{n}", String(left));
    }, 1000);
  }
});
