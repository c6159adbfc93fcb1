// Counts down to the opening of the join link, then lets the patient in.

const box = document.getElementById("countdown");
const remaining = document.getElementById("remaining");
const opensAt = Date.parse(box.dataset.opensAt);
const clockSkew = Date.parse(box.dataset.serverNow) - Date.now();

function format(milliseconds) {
  const total = Math.ceil(milliseconds / 1000);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) return `${days} ${days === 1 ? "Tag" : "Tage"} und ${hours} Std.`;
  if (hours > 0) return `${hours} Std. ${minutes} Min.`;
  return `${minutes}:${String(seconds).padStart(2, "0")} Minuten`;
}

function tick() {
  const left = opensAt - (Date.now() + clockSkew);
  if (left <= 0) {
    remaining.textContent = "0:00 Minuten – Sie werden eingelassen…";
    location.reload();
    return;
  }
  remaining.textContent = format(left);
  setTimeout(tick, Math.min(1000, left));
}

tick();
