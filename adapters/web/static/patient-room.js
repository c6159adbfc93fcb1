// The patient's side: devices, waiting room, the call.

import { PeerCall, describePath } from "./call.js";
import { showRemoteMediaState, wireControls } from "./call-controls.js";
import { LocalMedia, deviceErrorText } from "./devices.js";
import { startQuickCheck } from "./quick-check.js";
import { connectSignaling } from "./signaling.js";

const room = document.getElementById("room");
const setupStep = document.getElementById("setup-step");
const waitingStep = document.getElementById("waiting-step");
const waitingText = document.getElementById("waiting-text");
const endedStep = document.getElementById("ended-step");
const callSection = document.getElementById("call");
const enterActions = document.getElementById("enter-actions");
const problem = document.getElementById("device-problem");
const badge = document.getElementById("security-badge");
const remotePlaceholder = document.getElementById("remote-placeholder");

callSection.hidden = true;

const localMedia = new LocalMedia({
  videoElement: document.getElementById("local-video"),
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});

let signaling = null;
let quickCheck = null;

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
    onFinalClose: (code, reason) => end(
      code === 4001 ? "Sprechstunde in einem anderen Fenster geöffnet" : "Die Videosprechstunde ist beendet",
      reason || "Sie können dieses Fenster jetzt schließen.",
    ),
  });
}

function onMessage(message) {
  if (message.type === "admitted" || message.type === "offer") quickCheck?.stop();
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
      end("Die Videosprechstunde ist beendet", "Vielen Dank. Sie können dieses Fenster jetzt schließen.");
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
// The button works only once this script runs; until then it stays disabled.
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
wireControls(localMedia, (message) => signaling?.send(message));
