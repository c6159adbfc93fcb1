// The practitioner's side of a group appointment: who waits, admit one,
// several or all, the mesh call, mute a participant for everyone, remove.

import { chime, wireControls } from "./call-controls.js";
import { LocalMedia, deviceErrorText } from "./devices.js";
import { MeshCall, describeMode } from "./mesh-call.js";
import { connectSignaling } from "./signaling.js";

const room = document.getElementById("room");
const names = JSON.parse(room.dataset.patients);
const stateText = document.getElementById("room-state");
const admitSelected = document.getElementById("admit-selected");
const admitAll = document.getElementById("admit-all");
const endButton = document.getElementById("end");
const noShowButton = document.getElementById("no-show");
const actionError = document.getElementById("action-error");
const deviceHelp = document.getElementById("device-help");
const originalTitle = document.title;

const localMedia = new LocalMedia({
  videoElement: document.getElementById("local-video"),
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});

let present = new Set();
let admitted = new Set();
let signaling = null;

const call = new MeshCall({
  iceServers: JSON.parse(room.dataset.iceServers),
  send: (message) => signaling?.send(message),
  localMedia,
  tiles: document.getElementById("tiles"),
  template: document.getElementById("tile-template"),
  describe: (id) => names[id] || id,
  onTile: (id, tile) => {
    tile.querySelector(".tile-actions").hidden = false;
    tile.querySelector(".mute-for-all").addEventListener("click", () => {
      signaling?.send({ type: "mute", to: id });
      tile.querySelector(".muted-badge").hidden = false;
    });
    tile.querySelector(".remove-participant").addEventListener("click", () => removeParticipant(id));
  },
  onModeChange: (mode) => {
    document.getElementById("security-text").textContent = describeMode(mode);
  },
});

function setState(text) {
  stateText.textContent = text;
}

function waiting() {
  return [...present].filter((id) => !admitted.has(id));
}

function showRoster() {
  for (const row of document.querySelectorAll("#group-patients tr[data-patient]")) {
    const id = row.dataset.patient;
    const state = row.querySelector(".patient-state");
    const choice = row.querySelector(".admit-choice");
    if (choice) choice.disabled = !(present.has(id) && !admitted.has(id));
    if (choice && choice.disabled) choice.checked = false;
    if (!state || /abgesagt|entfernt/.test(state.textContent)) continue;
    if (admitted.has(id)) state.textContent = present.has(id) ? "im Gespräch" : "eingelassen, nicht verbunden";
    else state.textContent = present.has(id) ? "wartet" : "nicht verbunden";
  }
  const someoneWaits = waiting().length > 0;
  admitAll.disabled = !someoneWaits;
  admitSelected.disabled = !document.querySelector(".admit-choice:checked");
  const callAllowed = admitted.size > 0;
  document.querySelector(".changes")?.toggleAttribute("hidden", callAllowed);
  endButton.hidden = !callAllowed;
  noShowButton.hidden = callAllowed;
  if (someoneWaits) {
    setState(`${waiting().length} wartet im Wartezimmer. Lassen Sie eintreten, wen Sie möchten.`);
  } else if (callAllowed) {
    setState("Das Gruppengespräch läuft.");
  } else {
    setState("Noch niemand ist im Wartezimmer.");
  }
}

function onMessage(message) {
  switch (message.type) {
    case "roster": {
      const newcomers = message.present.filter((id) => !present.has(id) && !message.admitted.includes(id));
      present = new Set(message.present);
      admitted = new Set(message.admitted);
      if (present.size) ensureMedia();
      if (newcomers.length) {
        chime();
        document.title = `(${waiting().length}) Wartet · ${originalTitle}`;
      } else if (!waiting().length) {
        document.title = originalTitle;
      }
      showRoster();
      break;
    }
    case "peers":
      ensureMedia().then(() => call.setPeers(message));
      break;
    case "peer-left":
      if (message.from) call.drop(message.from);
      break;
    case "media-state":
      if (message.from) call.showMediaState(message.from, message);
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

function finish(text) {
  call.close();
  localMedia.stop();
  signaling?.close();
  setState(text);
  for (const button of [admitSelected, admitAll, endButton, noShowButton]) button.hidden = true;
  document.getElementById("call").hidden = true;
}

async function act(path, { confirmText, body } = {}) {
  if (confirmText && !window.confirm(confirmText)) return null;
  actionError.hidden = true;
  const response = await fetch(`${room.dataset.actionUrl}/${path}`, {
    method: "POST",
    headers: { "X-CSRF-Token": room.dataset.csrf, "Content-Type": "application/json" },
    credentials: "same-origin",
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    actionError.textContent = answer.error || "Das hat nicht geklappt. Bitte versuchen Sie es erneut.";
    actionError.hidden = false;
    return null;
  }
  return answer;
}

async function admit(patients) {
  admitSelected.disabled = true;
  admitAll.disabled = true;
  if (await act("einlassen", { body: { patients } })) {
    for (const id of patients || waiting()) admitted.add(id);
  }
  showRoster();
}

async function removeParticipant(id) {
  const name = names[id] || "diese Person";
  if (await act(`entfernen/${id}`, { confirmText: `${name} aus dem Gespräch entfernen? Die Person kann danach nicht wieder beitreten.` })) {
    call.drop(id);
    present.delete(id);
    admitted.delete(id);
    const state = document.querySelector(`#group-patients tr[data-patient="${id}"] .patient-state`);
    if (state) state.textContent = "entfernt";
    document.querySelector(`#group-patients tr[data-patient="${id}"] .admit-choice`)?.remove();
    showRoster();
  }
}

document.getElementById("group-patients").addEventListener("change", showRoster);
admitSelected.addEventListener("click", () => {
  admit([...document.querySelectorAll(".admit-choice:checked")].map((box) => box.value));
});
admitAll.addEventListener("click", () => admit(null));
endButton.addEventListener("click", async () => {
  if (await act("beenden", { confirmText: "Termin jetzt für alle beenden? Danach kann niemand mehr beitreten." })) {
    finish("Dieser Termin ist abgeschlossen.");
  }
});
noShowButton.addEventListener("click", async () => {
  if (await act("nicht-erschienen", { confirmText: "Vermerken, dass niemand erschienen ist?" })) {
    finish("Vermerkt: nicht erschienen.");
  }
});
document.getElementById("hang-up").addEventListener("click", () => {
  call.close();
  localMedia.stop();
  signaling?.close();
  setState("Sie haben das Gespräch verlassen. Laden Sie die Seite neu, um wieder beizutreten.");
});

wireControls(localMedia, (message) => signaling?.send(message));

let mediaStarted = null;
function ensureMedia() {
  mediaStarted ??= localMedia.start().catch((error) => {
    deviceHelp.textContent = deviceErrorText(error);
    deviceHelp.hidden = false;
  });
  return mediaStarted;
}

if (room.dataset.finished !== "true") {
  signaling = connectSignaling(room.dataset.wsUrl, {
    onMessage,
    onFinalClose: (code, reason) => finish(reason || "Die Verbindung zum Sprechzimmer wurde beendet."),
  });
}
