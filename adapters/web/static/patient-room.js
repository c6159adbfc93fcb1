// The patient's side: devices, waiting room, the call.

import { PeerCall, describePath } from "./call.js";
import { showRemoteMediaState, wireControls } from "./call-controls.js";
import { LocalMedia } from "./devices.js";
import { PatientSteps } from "./patient-steps.js";
import { connectSignaling } from "./signaling.js";

const room = document.getElementById("room");
const waitingStep = document.getElementById("waiting-step");
const waitingText = document.getElementById("waiting-text");
const badge = document.getElementById("security-badge");
const remotePlaceholder = document.getElementById("remote-placeholder");

const localMedia = new LocalMedia({
  videoElement: document.getElementById("local-video"),
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});

let signaling = null;

const call = new PeerCall({
  iceServers: JSON.parse(room.dataset.iceServers),
  send: (message) => signaling?.send(message),
  localMedia,
  remoteVideo: document.getElementById("remote-video"),
  onConnected: (path) => {
    document.getElementById("security-text").textContent = describePath(path);
    badge.hidden = false;
    remotePlaceholder.hidden = true;
    waitingStep.hidden = true;
  },
  onDisconnected: () => {
    waitingStep.hidden = false;
    waitingText.textContent = "Die Verbindung ist unterbrochen und wird wieder aufgebaut…";
  },
});

const steps = new PatientSteps({
  localMedia,
  enter: connect,
  leave: () => {
    call.close();
    signaling?.close();
  },
});

function connect() {
  signaling = connectSignaling(room.dataset.wsUrl, {
    onMessage,
    onFinalClose: (code, reason) => steps.end(
      code === 4001 ? "Sprechstunde in einem anderen Fenster geöffnet" : "Die Videosprechstunde ist beendet",
      reason || "Sie können dieses Fenster jetzt schließen.",
    ),
  });
}

function onMessage(message) {
  if (message.type === "admitted" || message.type === "offer") steps.stopQuickCheck();
  switch (message.type) {
    case "waiting":
      waitingText.textContent = "Ihre Praxis weiß, dass Sie da sind, und lässt Sie gleich eintreten. Bitte lassen Sie diese Seite geöffnet.";
      break;
    case "admitted":
      waitingText.textContent = "Sie werden jetzt verbunden…";
      break;
    case "peer-left":
      call.close();
      badge.hidden = true;
      waitingStep.hidden = false;
      waitingText.textContent = "Ihre Behandlerin / Ihr Behandler ist gerade nicht verbunden. Bitte warten Sie, das Gespräch geht gleich weiter.";
      break;
    case "media-state":
      showRemoteMediaState(message);
      break;
    case "ice-config":
      call.configure(message);
      break;
    case "ended":
      steps.end("Die Videosprechstunde ist beendet", "Vielen Dank. Sie können dieses Fenster jetzt schließen.");
      break;
    case "offer":
    case "answer":
    case "candidate":
      call.handle(message);
      break;
    default:
      break;
  }
}

steps.wireButtons();
wireControls(localMedia, (message) => signaling?.send(message));
