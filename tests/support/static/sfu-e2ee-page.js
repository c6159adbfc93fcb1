// Test page: one participant of an end-to-end encrypted group call through
// the SFU, built from the product's e2ee.js. The harness (sfu_harness.py)
// stands in for the product's signaling. window.harness lets a test read
// what the page received, decoded and heard, per publisher.

import {
  CallKeys,
  FrameEncryption,
  REFUSAL_MESSAGE,
  frameEncryptionSupport,
  giveKeysTo,
  rotateSendingKey,
} from "/static/e2ee.js";

const params = new URLSearchParams(location.search);
const room = params.get("room");
const me = params.get("participant");
const slotsPerKind = Number(params.get("slots") || "4");
// Test only: this page takes a random key in place of this publisher's.
const wrongKeyFrom = params.get("wrong-key-from");

const status = document.getElementById("status");
const state = {
  refused: false,
  offerSent: false,
  connection: "new",
  slots: [], // {mid, kind, publisher_id}
  receivedKeyIds: {}, // publisher -> key IDs received, in order
  sentKeyIds: [],
  error: null,
};
let keys = null;
let frames = null;
let pc = null;
const sentRawKeys = [];
const slotByMid = {};

window.harness = {
  state,
  fingerprint: () => (keys ? keys.fingerprint() : null),
  report: () => (frames ? frames.report() : null),
  support: () => (frames ? frames.support : null),
  encryptsWhatIsSent: () => frames.encryptsWhatIsSent(pc),
  // Test only: the page's own sending keys, to look for them in the relay.
  rawSendingKeys: () => sentRawKeys.map(btoaBytes),
  inbound,
};

function btoaBytes(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

async function main() {
  if (frameEncryptionSupport() === null) {
    refuse();
    return;
  }
  frames = new FrameEncryption();
  keys = await CallKeys.create(me);
  rememberSent(keys.sendingKey);
  frames.useSendingKey(keys.sendingKey);

  const media = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 320, height: 240, frameRate: 15 },
  });
  document.getElementById("self").srcObject = media;

  const socket = await openSignaling();
  pc = new RTCPeerConnection({
    iceServers: [],
    bundlePolicy: "max-bundle",
    ...frames.peerConnectionOptions,
  });
  pc.addEventListener("connectionstatechange", () => {
    state.connection = pc.connectionState;
  });
  for (const track of media.getTracks()) {
    const { sender } = pc.addTransceiver(track, { direction: "sendonly" });
    frames.encrypt(sender, track.kind);
  }
  const receiving = [];
  for (const kind of ["audio", "video"]) {
    for (let n = 0; n < slotsPerKind; n += 1) {
      const transceiver = pc.addTransceiver(kind, { direction: "recvonly" });
      frames.decrypt(transceiver.receiver, kind, `${kind}-${n}`);
      receiving.push({ transceiver, slot: `${kind}-${n}` });
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  for (const { transceiver, slot } of receiving) {
    slotByMid[transceiver.mid] = slot;
    showSlot(transceiver);
  }
  await gatheringComplete(pc);

  state.offerSent = true;
  const response = await fetch(`/rooms/${room}/join`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ participant: me, offer: pc.localDescription.sdp }),
  });
  const joined = await response.json();
  if (!response.ok) throw new Error(joined.error);
  followLayout(joined.slots);
  await pc.setRemoteDescription({ type: "answer", sdp: joined.answer });
  status.textContent = "Verbunden, Ende-zu-Ende verschlüsselt.";
  await showFingerprint();
  return socket;
}

function refuse() {
  state.refused = true;
  const refusal = document.getElementById("refusal");
  refusal.textContent = REFUSAL_MESSAGE;
  refusal.hidden = false;
  status.textContent = "Keine Verbindung.";
}

function rememberSent(sendingKey) {
  state.sentKeyIds.push(sendingKey.id);
  sentRawKeys.push(sendingKey.raw);
}

function openSignaling() {
  const url = new URL(`/rooms/${room}/signaling/${me}`, location.href);
  url.protocol = "ws:";
  const socket = new WebSocket(url);
  const send = (message) => socket.send(JSON.stringify(message));
  let handled = Promise.resolve();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    handled = handled
      .then(() => onSignal(message, send))
      .catch((error) => {
        state.error = String(error);
      });
  });
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => {
      send({ type: "hello", publicKey: keys.publicKey });
      resolve(socket);
    });
    socket.addEventListener("error", reject);
  });
}

async function onSignal(message, send) {
  switch (message.type) {
    case "welcome":
      for (const other of message.participants) {
        await keys.addParticipant(other.id, other.publicKey);
        await giveKeysTo(keys, frames, other.id, send);
      }
      break;
    case "joined":
      await keys.addParticipant(message.id, message.publicKey);
      await giveKeysTo(keys, frames, message.id, send);
      break;
    case "key": {
      const received = await keys.unwrap(message);
      if (received.publisherId === wrongKeyFrom) {
        received.raw = crypto.getRandomValues(new Uint8Array(received.raw.length));
      }
      frames.addReceivingKey(received);
      (state.receivedKeyIds[received.publisherId] ||= []).push(received.id);
      break;
    }
    case "left": {
      keys.removeParticipant(message.id);
      frames.forgetPublisher(message.id);
      // Not awaited: the others' new keys must be taken in meanwhile.
      rotateSendingKey(keys, frames, send).catch((error) => {
        state.error = String(error);
      });
      rememberSent(keys.sendingKey);
      break;
    }
    case "layout":
      followLayout(message.slots);
      break;
  }
  await showFingerprint();
}

async function showFingerprint() {
  document.getElementById("fingerprint").textContent = await keys.fingerprint();
}

function gatheringComplete(connection) {
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    connection.addEventListener("icegatheringstatechange", () => {
      if (connection.iceGatheringState === "complete") resolve();
    });
  });
}

function showSlot(transceiver) {
  const kind = transceiver.receiver.track.kind;
  const element = document.createElement(kind === "video" ? "video" : "audio");
  element.autoplay = true;
  element.playsInline = true;
  element.srcObject = new MediaStream([transceiver.receiver.track]);
  if (kind === "audio") {
    element.hidden = true;
    document.body.append(element);
    return;
  }
  const tile = document.createElement("div");
  tile.className = "tile";
  tile.hidden = true; // until the layout says whom it shows
  const label = document.createElement("p");
  label.dataset.mid = transceiver.mid;
  label.textContent = "frei";
  element.muted = true;
  tile.append(element, label);
  document.getElementById("tiles").append(tile);
}

function followLayout(slots) {
  state.slots = slots;
  for (const slot of slots) {
    const label = document.querySelector(`p[data-mid="${slot.mid}"]`);
    if (label) {
      label.textContent = slot.publisher_id || "frei";
      label.parentElement.hidden = !slot.publisher_id;
    }
  }
}

// Per publisher and kind: the receiving slot's inbound-rtp statistics and
// what the worker did with its frames.
async function inbound() {
  const report = await frames.report();
  const result = {};
  for (const slot of state.slots) {
    if (!slot.publisher_id) continue;
    const transceiver = pc.getTransceivers().find((t) => t.mid === slot.mid);
    const stats = await transceiver.receiver.getStats();
    let rtp = {};
    stats.forEach((entry) => {
      if (entry.type === "inbound-rtp") rtp = entry;
    });
    (result[slot.publisher_id] ||= {})[slot.kind] = {
      mid: slot.mid,
      packetsReceived: rtp.packetsReceived || 0,
      framesReceived: rtp.framesReceived || 0,
      framesDecoded: rtp.framesDecoded || 0,
      totalAudioEnergy: rtp.totalAudioEnergy || 0,
      audioLevel: rtp.audioLevel || 0,
      worker: report.slots[slotByMid[slot.mid]] || null,
    };
  }
  return result;
}

main().catch((error) => {
  state.error = String(error && error.stack ? error.stack : error);
  status.textContent = "Fehler: " + error;
});
