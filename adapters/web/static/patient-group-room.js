// A patient's side of a group appointment: devices, waiting room, the grid.

import { wireControls } from "./call-controls.js";
import { LocalMedia, deviceErrorText } from "./devices.js";
import { MeshCall, describeMode } from "./mesh-call.js";
import { startQuickCheck } from "./quick-check.js";
import { connectSignaling } from "./signaling.js";

const CLOSE_REPLACED = 4001;
const CLOSE_REMOVED = 4410;

const room = document.getElementById("room");
const setupStep = document.getElementById("setup-step");
const waitingStep = document.getElementById("waiting-step");
const waitingText = document.getElementById("waiting-text");
const endedStep = document.getElementById("ended-step");
const callSection = document.getElementById("call");
const enterActions = document.getElementById("enter-actions");
const problem = document.getElementById("device-problem");
const mutedNotice = document.getElementById("muted-by-practice");
const audioButton = document.getElementById("toggle-audio");

callSection.hidden = true;

const localMedia = new LocalMedia({
  videoElement: document.getElementById("local-video"),
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});

let signaling = null;
let quickCheck = null;

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

async function requestDevices() {
  problem.hidden = true;
  try {
    await localMedia.start();
  } catch (error) {
    document.getElementById("device-problem-text").textContent = deviceErrorText(error);
    problem.hidden = false;
    return;
  }
  callSection.hidden = false;
  enterActions.hidden = false;
  setupStep.querySelector("#request-devices").hidden = true;
  setupStep.querySelector("h1").textContent = "So sehen andere Sie";
  setupStep.querySelector("h1 ~ p:not(.lead)").textContent =
    "Kamera und Mikrofon sind bereit. Wenn alles passt, gehen Sie ins Wartezimmer.";
}

function enterWaitingRoom() {
  enterActions.hidden = true;
  setupStep.hidden = true;
  waitingStep.hidden = false;
  callSection.hidden = false;
  quickCheck = startQuickCheck(document.getElementById("quick-check"));
  signaling = connectSignaling(room.dataset.wsUrl, {
    onMessage,
    onFinalClose: (code, reason) => {
      if (code === CLOSE_REMOVED) {
        end("Sie wurden aus der Sprechstunde entfernt", `${reason} Bitte wenden Sie sich an Ihre Praxis, wenn Sie Fragen haben.`);
      } else {
        end(
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
  if (message.type === "admitted" || message.type === "peers") quickCheck?.stop();
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
      end("Die Videosprechstunde ist beendet", "Vielen Dank. Sie können dieses Fenster jetzt schließen.");
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

function end(title, text) {
  quickCheck?.stop();
  call.close();
  localMedia.stop();
  signaling?.close();
  callSection.hidden = true;
  waitingStep.hidden = true;
  setupStep.hidden = true;
  document.getElementById("ended-title").textContent = title;
  document.getElementById("ended-text").textContent = text;
  endedStep.hidden = false;
}

document.getElementById("request-devices").addEventListener("click", requestDevices);
document.getElementById("request-devices").disabled = false;
document.getElementById("retry-devices").addEventListener("click", requestDevices);
document.getElementById("continue-without-devices").addEventListener("click", () => {
  problem.hidden = true;
  enterWaitingRoom();
});
document.getElementById("enter-waiting-room").addEventListener("click", enterWaitingRoom);
document.getElementById("hang-up").addEventListener("click", () => {
  end("Sie haben das Gespräch verlassen", "Solange der Termin läuft, können Sie über den Link aus Ihrer E-Mail wieder beitreten.");
});
audioButton.addEventListener("click", () => {
  mutedNotice.hidden = true;
});
wireControls(localMedia, (message) => signaling?.send(message));
