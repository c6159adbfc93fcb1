// A patient's side of a group appointment: devices, waiting room, the grid.

import { wireControls } from "./call-controls.js";
import { LocalMedia } from "./devices.js";
import { MeshCall, describeMode } from "./mesh-call.js";
import { PatientSteps } from "./patient-steps.js";
import { connectSignaling } from "./signaling.js";

const CLOSE_REPLACED = 4001;
const CLOSE_REMOVED = 4410;

const room = document.getElementById("room");
const waitingStep = document.getElementById("waiting-step");
const waitingText = document.getElementById("waiting-text");
const mutedNotice = document.getElementById("muted-by-practice");
const audioButton = document.getElementById("toggle-audio");

const localMedia = new LocalMedia({
  videoElement: document.getElementById("local-video"),
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});

let signaling = null;

const call = new MeshCall({
  iceServers: JSON.parse(room.dataset.iceServers),
  send: (message) => signaling?.send(message),
  localMedia,
  tiles: document.getElementById("tiles"),
  template: document.getElementById("tile-template"),
  // Patients see the practice by its role, the others of the group unnamed.
  describe: (id) => (id === "practitioner" ? "Behandlerin / Behandler" : "Teilnehmende Person"),
  onModeChange: (mode) => {
    document.getElementById("security-text").textContent = describeMode(mode);
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
    onFinalClose: (code, reason) => {
      if (code === CLOSE_REMOVED) {
        steps.end("Sie wurden aus der Sprechstunde entfernt", `${reason} Bitte wenden Sie sich an Ihre Praxis, wenn Sie Fragen haben.`);
      } else {
        steps.end(
          code === CLOSE_REPLACED ? "Sprechstunde in einem anderen Fenster geöffnet" : "Die Videosprechstunde ist beendet",
          reason || "Sie können dieses Fenster jetzt schließen.",
        );
      }
    },
  });
}

function mutedByPractice() {
  localMedia.setEnabled("audio", false);
  audioButton.setAttribute("aria-pressed", "true");
  audioButton.textContent = "Mikrofon an";
  mutedNotice.hidden = false;
  signaling?.send({ type: "media-state", audio: false, video: localMedia.videoEnabled });
}

function onMessage(message) {
  if (message.type === "admitted" || message.type === "peers") steps.stopQuickCheck();
  switch (message.type) {
    case "waiting":
      waitingText.textContent = "Ihre Praxis weiß, dass Sie da sind, und lässt Sie gleich eintreten. Bitte lassen Sie diese Seite geöffnet.";
      break;
    case "admitted":
      waitingStep.hidden = true;
      break;
    case "peers":
      call.setPeers(message);
      break;
    case "peer-left":
      if (message.from) call.drop(message.from);
      break;
    case "media-state":
      if (message.from) call.showMediaState(message.from, message);
      break;
    case "mute":
      if (message.from === "practitioner") mutedByPractice();
      break;
    case "removed":
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
    case "sfu-answer":
    case "layout":
    case "e2ee-public-key":
    case "e2ee-key":
      call.handle(message);
      break;
    default:
      break;
  }
}

steps.wireButtons();
audioButton.addEventListener("click", () => {
  mutedNotice.hidden = true;
});
wireControls(localMedia, (message) => signaling?.send(message));
