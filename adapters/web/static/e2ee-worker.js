// Encrypts and decrypts every media frame of a group call, in a worker of its
// own (see e2ee.js, which starts it and hands it keys and transforms).
//
// A frame on the wire:
//
//   clear header | AES-GCM ciphertext of the rest, with its 16-byte tag | trailer
//   trailer = IV (12 bytes) | key ID (4 bytes, big-endian) | format version (1)
//
// The clear header is what the SFU and the receiving browser's depacketizer
// read: for VP8 the payload header (10 bytes of a keyframe with its size, 3 of
// a delta frame), for Opus the TOC byte. It is the additional authenticated
// data, so nobody can change it unnoticed. The IV is the key ID followed by a
// 64-bit counter of this worker: each sending key belongs to one participant
// and is used only here, so no IV repeats under a key. A frame that does not
// decrypt is dropped, never handed to the decoder.

"use strict";

const FORMAT_VERSION = 1;
const IV_BYTES = 12;
const KEY_ID_BYTES = 4;
const TRAILER_BYTES = IV_BYTES + KEY_ID_BYTES + 1;
const TAG_BYTES = 16;
const VP8_KEYFRAME_HEADER = 10;
const VP8_DELTA_HEADER = 3;
const OPUS_TOC = 1;
// Older keys of a publisher stay usable for frames still on their way.
const KEYS_KEPT_PER_PUBLISHER = 3;

let sending = null; // {keyId, key, counter}
const receiving = new Map(); // key ID -> {publisherId, key}
const sent = { audio: 0, video: 0, keyId: null };
const slots = new Map(); // slot -> counters of one receiver
const receivers = new Map(); // slot -> RTCRtpScriptTransformer, for key frames

function clearBytes(kind, data) {
  if (kind === "audio") return Math.min(OPUS_TOC, data.length);
  // The P bit of the VP8 frame tag is clear on a keyframe (RFC 6386 9.1).
  const header = data.length && !(data[0] & 0x01) ? VP8_KEYFRAME_HEADER : VP8_DELTA_HEADER;
  return Math.min(header, data.length);
}

function nextIv(current) {
  const iv = new Uint8Array(IV_BYTES);
  const view = new DataView(iv.buffer);
  view.setUint32(0, current.keyId);
  view.setUint32(4, Math.floor(current.counter / 2 ** 32));
  view.setUint32(8, current.counter >>> 0);
  current.counter += 1;
  return iv;
}

async function encrypt(frame, kind, controller) {
  const current = sending;
  if (current === null) return; // nothing leaves unencrypted
  const data = new Uint8Array(frame.data);
  const clear = clearBytes(kind, data);
  const iv = nextIv(current);
  const header = data.subarray(0, clear);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: header },
      current.key,
      data.subarray(clear),
    ),
  );
  const out = new Uint8Array(clear + ciphertext.length + TRAILER_BYTES);
  out.set(header, 0);
  out.set(ciphertext, clear);
  out.set(iv, clear + ciphertext.length);
  new DataView(out.buffer).setUint32(out.length - 1 - KEY_ID_BYTES, current.keyId);
  out[out.length - 1] = FORMAT_VERSION;
  frame.data = out.buffer;
  sent[kind] += 1;
  sent.keyId = current.keyId;
  controller.enqueue(frame);
}

async function decrypt(frame, kind, slot, controller) {
  const counters = slotCounters(slot);
  const data = new Uint8Array(frame.data);
  if (data.length === 0) {
    controller.enqueue(frame); // an empty frame carries nothing to hide
    return;
  }
  counters.received += 1;
  const plain = await open(kind, data, counters);
  if (plain === null) {
    counters.failed += 1;
    counters.lastFailed = true;
    return;
  }
  counters.decrypted += 1;
  counters.lastFailed = false;
  frame.data = plain.buffer;
  controller.enqueue(frame);
}

async function open(kind, data, counters) {
  if (data.length < TRAILER_BYTES + TAG_BYTES + 1) return null;
  if (data[data.length - 1] !== FORMAT_VERSION) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const keyId = view.getUint32(data.length - 1 - KEY_ID_BYTES);
  const entry = receiving.get(keyId);
  if (entry === undefined) return null;
  const clear = clearBytes(kind, data);
  const end = data.length - TRAILER_BYTES;
  if (end - clear < TAG_BYTES) return null;
  const iv = data.subarray(end, end + IV_BYTES);
  const header = data.subarray(0, clear);
  let inner;
  try {
    inner = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: header },
        entry.key,
        data.subarray(clear, end),
      ),
    );
  } catch {
    return null;
  }
  counters.keyId = keyId;
  counters.publisherId = entry.publisherId;
  const plain = new Uint8Array(clear + inner.length);
  plain.set(header, 0);
  plain.set(inner, clear);
  return plain;
}

function slotCounters(slot) {
  let counters = slots.get(slot);
  if (counters === undefined) {
    counters = {
      received: 0,
      decrypted: 0,
      failed: 0,
      keyId: null,
      publisherId: null,
      lastFailed: false,
    };
    slots.set(slot, counters);
  }
  return counters;
}

function transform(options) {
  const { operation, kind, slot } = options;
  return new TransformStream({
    async transform(frame, controller) {
      try {
        await (operation === "encrypt"
          ? encrypt(frame, kind, controller)
          : decrypt(frame, kind, slot, controller));
      } catch (error) {
        // A frame that fails is dropped; the stream, and the call, go on.
        console.error("e2ee frame dropped:", error);
      }
    },
  });
}

async function importAesKey(raw) {
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

async function addReceivingKey(publisherId, keyId, raw) {
  const holder = receiving.get(keyId);
  if (holder !== undefined && holder.publisherId !== publisherId) {
    // Another participant's key ID: taking it over would let one participant
    // pass for another. Refused; that participant's frames stay undecoded.
    return;
  }
  receiving.set(keyId, { publisherId, key: await importAesKey(raw) });
  const own = [...receiving].filter(([, entry]) => entry.publisherId === publisherId);
  for (const [oldId] of own.slice(0, Math.max(own.length - KEYS_KEPT_PER_PUBLISHER, 0))) {
    receiving.delete(oldId);
  }
  // A slot whose frames could not be opened waits for a keyframe; ask for one
  // now that a key has come.
  for (const [slot, transformer] of receivers) {
    if (slotCounters(slot).lastFailed && transformer.sendKeyFrameRequest) {
      Promise.resolve()
        .then(() => transformer.sendKeyFrameRequest())
        .catch(() => {});
    }
  }
}

function forgetPublisher(publisherId) {
  for (const [keyId, entry] of [...receiving]) {
    if (entry.publisherId === publisherId) receiving.delete(keyId);
  }
}

function report() {
  const bySlot = {};
  for (const [slot, counters] of slots) {
    const { lastFailed, ...shown } = counters;
    bySlot[slot] = shown;
  }
  return { sent: { ...sent }, slots: bySlot };
}

// RTCRtpScriptTransform: the browser hands each transform over as an event.
self.addEventListener("rtctransform", (event) => {
  const transformer = event.transformer;
  const options = transformer.options;
  if (options.operation === "decrypt" && options.kind === "video") {
    receivers.set(options.slot, transformer);
  }
  transformer.readable.pipeThrough(transform(options)).pipeTo(transformer.writable);
});

// Messages are handled one after the other, so that a key is in place before
// a report or a later key is looked at.
let handled = Promise.resolve();
self.onmessage = (event) => {
  handled = handled.then(() => handle(event.data)).catch((error) => {
    console.error("e2ee worker:", error);
  });
};

async function handle(message) {
  switch (message.type) {
    case "streams": // createEncodedStreams, in browsers without the above
      message.readable.pipeThrough(transform(message.options)).pipeTo(message.writable);
      break;
    case "sending-key":
      sending = {
        keyId: message.keyId,
        key: await importAesKey(message.raw),
        counter: 0,
      };
      break;
    case "receiving-key":
      await addReceivingKey(message.publisherId, message.keyId, message.raw);
      break;
    case "forget":
      forgetPublisher(message.publisherId);
      break;
    case "report":
      self.postMessage({ type: "report", requestId: message.requestId, ...report() });
      break;
  }
}
