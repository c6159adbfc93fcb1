// Mute, camera off, device choice: the same buttons on both sides.

export function wireControls(localMedia, signal) {
  const audioButton = document.getElementById("toggle-audio");
  const videoButton = document.getElementById("toggle-video");
  const report = () => signal({ type: "media-state", audio: localMedia.audioEnabled, video: localMedia.videoEnabled });

  audioButton.addEventListener("click", () => {
    const enable = !localMedia.audioEnabled;
    localMedia.setEnabled("audio", enable);
    audioButton.setAttribute("aria-pressed", String(!enable));
    audioButton.textContent = enable ? "Mikrofon aus" : "Mikrofon an";
    report();
  });
  videoButton.addEventListener("click", () => {
    const enable = !localMedia.videoEnabled;
    localMedia.setEnabled("video", enable);
    videoButton.setAttribute("aria-pressed", String(!enable));
    videoButton.textContent = enable ? "Kamera aus" : "Kamera an";
    report();
  });
}

export function showRemoteMediaState(message) {
  const placeholder = document.getElementById("remote-placeholder");
  const muted = [];
  if (!message.audio) muted.push("Mikrofon aus");
  if (!message.video) muted.push("Kamera aus");
  placeholder.textContent = muted.length ? `Gegenüber: ${muted.join(", ")}` : "";
  placeholder.hidden = muted.length === 0;
}

export function chime() {
  try {
    const context = new AudioContext();
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, context.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.6);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start();
    oscillator.stop(context.currentTime + 0.6);
  } catch {
    // No sound before the first click on the page; the title still changes.
  }
}
