// The practitioner's side of an appointment: who waits, admit, the call, end.

import { PeerCall, describePath } from "./call.js";
import { chime, showRemoteMediaState, wireControls } from "./call-controls.js";
import { LocalMedia, deviceErrorText } from "./devices.js";
import { connectSignaling } from "./signaling.js";

const room = document.getElementById("room");
const stateText = document.getElementById("room-state");
const admitButton = document.getElementById("admit");
const endButton = document.getElementById("end");
const noShowButton = document.getElementById("no-show");
const actionError = document.getElementById("action-error");
const badge = document.getElementById("security-badge");
const deviceHelp = document.getElementById("device-help");
const remotePlaceholder = document.getElementById("remote-placeholder");
const originalTitle = document.title;

const localMedia = new LocalMedia({
  videoElement: document.getElementById("local-video"),
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});

let patientPresent = false;
let callAllowed = false;
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
    setState("Sie sind mit Ihrer Patientin / Ihrem Patienten verbunden.");
  },
  onDisconnected: () => setState("Die Verbindung ist unterbrochen. Sie wird wieder aufgebaut, sobald beide Seiten da sind."),
});

function setState(text) {
  stateText.textContent = text;
}

function showPresence() {
  if (patientPresent) ensureMedia();
  // Once the call is on, the appointment is no longer moved or cancelled here.
  document.querySelector(".changes")?.toggleAttribute("hidden", callAllowed);
  admitButton.disabled = !(patientPresent && !callAllowed);
  admitButton.hidden = callAllowed;
  endButton.hidden = !callAllowed;
  noShowButton.hidden = callAllowed;
  if (!patientPresent) {
    setState(callAllowed
      ? "Die Patientin / der Patient ist gerade nicht verbunden. Sobald sie oder er zurückkommt, startet das Gespräch wieder."
      : "Die Patientin / der Patient ist noch nicht im Wartezimmer.");
  } else if (!callAllowed) {
    setState("Die Patientin / der Patient wartet. Lassen Sie sie oder ihn eintreten, wenn Sie bereit sind.");
  }
}

function onMessage(message) {
  switch (message.type) {
    case "presence": {
      const arrived = message.patientPresent && !patientPresent;
      patientPresent = message.patientPresent;
      callAllowed = message.callAllowed;
      if (arrived && !callAllowed) {
        chime();
        document.title = `(1) Wartet · ${originalTitle}`;
      }
      showPresence();
      break;
    }
    case "start-call":
      document.title = originalTitle;
      setState("Verbindung wird aufgebaut…");
      ensureMedia().then(() => call.start());
      break;
    case "peer-left":
      patientPresent = false;
      call.close();
      badge.hidden = true;
      showPresence();
      break;
    case "media-state":
      showRemoteMediaState(message);
      break;
    case "ice-config":
      call.configure(message);
      break;
    case "ended":
      finish("Dieser Termin ist abgeschlossen.");
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

function finish(text) {
  call.close();
  localMedia.stop();
  signaling?.close();
  setState(text);
  for (const button of [admitButton, endButton, noShowButton]) button.hidden = true;
  document.getElementById("call").hidden = true;
}

async function act(path, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return null;
  actionError.hidden = true;
  const response = await fetch(`${room.dataset.actionUrl}/${path}`, {
    method: "POST",
    headers: { "X-CSRF-Token": room.dataset.csrf },
    credentials: "same-origin",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    actionError.textContent = body.error || "Das hat nicht geklappt. Bitte versuchen Sie es erneut.";
    actionError.hidden = false;
    return null;
  }
  return body;
}

admitButton.addEventListener("click", async () => {
  admitButton.disabled = true;
  if (await act("einlassen")) {
    callAllowed = true;
    showPresence();
  } else {
    admitButton.disabled = false;
  }
});
endButton.addEventListener("click", async () => {
  if (await act("beenden", "Termin jetzt beenden? Die Patientin / der Patient kann danach nicht mehr beitreten.")) {
    finish("Dieser Termin ist abgeschlossen.");
  }
});
noShowButton.addEventListener("click", async () => {
  if (await act("nicht-erschienen", "Vermerken, dass die Patientin / der Patient nicht erschienen ist?")) {
    finish("Vermerkt: nicht erschienen.");
  }
});
document.getElementById("hang-up").addEventListener("click", () => {
  call.close();
  localMedia.stop();
  signaling?.close();
  badge.hidden = true;
  setState("Sie haben das Gespräch verlassen. Laden Sie die Seite neu, um wieder beizutreten.");
});

wireControls(localMedia, (message) => signaling?.send(message));

// Camera and microphone start when someone is there to see them, not when a
// practitioner merely opens an appointment to look at or move it.
let mediaStarted = null;
function ensureMedia() {
  mediaStarted ??= localMedia.start().catch((error) => {
    deviceHelp.textContent = deviceErrorText(error);
    deviceHelp.hidden = false;
  });
  return mediaStarted;
}

async function begin() {
  signaling = connectSignaling(room.dataset.wsUrl, {
    onMessage,
    onFinalClose: (code, reason) => finish(reason || "Die Verbindung zum Sprechzimmer wurde beendet."),
  });
}

if (room.dataset.finished !== "true") begin();
