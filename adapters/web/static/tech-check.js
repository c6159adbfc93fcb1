// Public device check: browser features, camera preview, microphone level.

import { LocalMedia, deviceErrorText, mediaDevicesSupported } from "./devices.js";

const verdict = document.getElementById("browser-verdict");
const preview = document.getElementById("check-preview");
const problem = document.getElementById("device-problem");
const level = document.getElementById("mic-level");

const supported = mediaDevicesSupported() && "RTCPeerConnection" in window && "WebSocket" in window;
verdict.textContent = supported
  ? "✔ Ihr Browser unterstützt Videosprechstunden."
  : "✘ Ihr Browser unterstützt keine Videosprechstunden. Bitte nutzen Sie einen aktuellen Chrome, Firefox oder Safari.";

const localMedia = new LocalMedia({
  videoElement: document.getElementById("local-video"),
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});

function meter(stream) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const draw = () => {
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
    level.value = Math.min(1, peak * 2);
    requestAnimationFrame(draw);
  };
  draw();
}

document.getElementById("request-devices").addEventListener("click", async () => {
  problem.hidden = true;
  try {
    const stream = await localMedia.start();
    preview.hidden = false;
    meter(stream);
    const hasVideo = stream.getVideoTracks().length > 0;
    const hasAudio = stream.getAudioTracks().length > 0;
    document.getElementById("device-verdict").textContent = hasVideo && hasAudio
      ? "✔ Kamera und Mikrofon funktionieren. Sprechen Sie: der Pegel sollte ausschlagen."
      : "✘ Kamera oder Mikrofon fehlt.";
  } catch (error) {
    document.getElementById("device-problem-text").textContent = deviceErrorText(error);
    problem.hidden = false;
  }
});
