// End-to-end encryption of group calls through the SFU.
//
// Every participant sends its media under a sending key of its own (AES-GCM,
// 256 bits, with a random 32-bit key ID); e2ee-worker.js encrypts each frame
// with it before the frame leaves the browser and decrypts the others' frames
// with theirs. The SFU forwards ciphertext and never holds a media key.
//
// Sending keys travel through the signaling server wrapped for one recipient:
// both sides derive the same wrapping key from an ECDH (P-256) agreement of
// their key pairs through HKDF-SHA-256, one per direction, and seal the
// sending key with AES-GCM, bound to sender, recipient and key ID. The server
// relays only public keys and sealed keys. Since it relays the public keys, it
// could pass off keys of its own; the fingerprint over all public keys of the
// call, which every participant shows and can compare aloud, reveals that.
//
// When someone leaves, everyone remaining takes a new sending key, gives it to
// the others and uses it shortly after, so the one who left cannot follow.

export const REFUSAL_MESSAGE =
  "Ihr Browser kann Gruppengespräche nicht Ende-zu-Ende verschlüsseln. " +
  "Bitte verwenden Sie eine aktuelle Version von Chrome, Edge, Firefox oder Safari.";

// Frames under a new key go out only after the others had time to receive it.
export const KEY_SWITCH_DELAY_MS = 1000;

const SENDING_KEY_BYTES = 32;
const WRAP_SALT = new TextEncoder().encode("sprechzimmer e2ee key wrap v1");
const FINGERPRINT_GROUPS = 6;

export class CannotEncrypt extends Error {
  constructor() {
    super(REFUSAL_MESSAGE);
    this.name = "CannotEncrypt";
  }
}

// How this browser can reach encoded frames: "script-transform" (the
// standard RTCRtpScriptTransform), "encoded-streams" (older Chrome), or null
// when it cannot, and must stay out of a group call.
export function frameEncryptionSupport(scope = globalThis) {
  if (!scope.crypto || !scope.crypto.subtle || typeof scope.Worker !== "function") {
    return null;
  }
  if (typeof scope.RTCRtpScriptTransform === "function") return "script-transform";
  const sender = scope.RTCRtpSender && scope.RTCRtpSender.prototype;
  if (sender && typeof sender.createEncodedStreams === "function") {
    return "encoded-streams";
  }
  return null;
}

export function toBase64(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

export function fromBase64(text) {
  return Uint8Array.from(atob(text), (character) => character.charCodeAt(0));
}

function randomKeyId(taken) {
  const id = new Uint32Array(1);
  do {
    crypto.getRandomValues(id);
  } while (taken === id[0]);
  return id[0];
}

// Sender, recipient and key ID, as the AES-GCM seal binds them.
function wrapContext(from, to, keyId) {
  return new TextEncoder().encode(JSON.stringify(["sprechzimmer-e2ee", from, to, keyId]));
}

// One participant's keys: its ECDH key pair, its sending key, and the others'
// public keys, from which the wrapping keys come.
export class CallKeys {
  static async create(participantId) {
    const pair = await crypto.subtle.generateKey(
      { name: "ECDH", namedCurve: "P-256" },
      false,
      ["deriveBits"],
    );
    const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const keys = new CallKeys(participantId, pair.privateKey, publicRaw);
    keys.newSendingKey();
    return keys;
  }

  #privateKey;
  #others = new Map(); // participant ID -> {publicRaw, secret (HKDF key)}

  constructor(participantId, privateKey, publicRaw) {
    this.participantId = participantId;
    this.#privateKey = privateKey;
    this.publicRaw = publicRaw;
    this.publicKey = toBase64(publicRaw);
    this.sendingKey = null; // {id, raw}
  }

  // A fresh sending key with a new key ID; the caller gives it to the others
  // (wrapFor) and then to the worker (FrameEncryption.useSendingKey).
  newSendingKey() {
    const raw = crypto.getRandomValues(new Uint8Array(SENDING_KEY_BYTES));
    this.sendingKey = { id: randomKeyId(this.sendingKey && this.sendingKey.id), raw };
    return this.sendingKey;
  }

  get participants() {
    return [...this.#others.keys()];
  }

  async addParticipant(participantId, publicKey) {
    const publicRaw = fromBase64(publicKey);
    const theirs = await crypto.subtle.importKey(
      "raw",
      publicRaw,
      { name: "ECDH", namedCurve: "P-256" },
      false,
      [],
    );
    const shared = await crypto.subtle.deriveBits(
      { name: "ECDH", public: theirs },
      this.#privateKey,
      256,
    );
    const secret = await crypto.subtle.importKey("raw", shared, "HKDF", false, [
      "deriveKey",
    ]);
    this.#others.set(participantId, { publicRaw, secret });
  }

  removeParticipant(participantId) {
    this.#others.delete(participantId);
  }

  // The sending key sealed for one other participant: all the server sees.
  async wrapFor(recipientId, sendingKey = this.sendingKey) {
    const wrapping = await this.#wrappingKey(this.participantId, recipientId);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv,
        additionalData: wrapContext(this.participantId, recipientId, sendingKey.id),
      },
      wrapping,
      sendingKey.raw,
    );
    return {
      type: "key",
      from: this.participantId,
      to: recipientId,
      keyId: sendingKey.id,
      iv: toBase64(iv),
      wrapped: toBase64(new Uint8Array(sealed)),
    };
  }

  // Opens a sealed key from another participant: {publisherId, id, raw}.
  // Throws when it was not sealed by that participant for this one.
  async unwrap(envelope) {
    if (envelope.to !== this.participantId) throw new Error("not sealed for me");
    if (!Number.isInteger(envelope.keyId) || envelope.keyId < 0 || envelope.keyId >= 2 ** 32) {
      throw new Error("not a key ID");
    }
    const wrapping = await this.#wrappingKey(envelope.from, this.participantId);
    const raw = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: fromBase64(envelope.iv),
        additionalData: wrapContext(envelope.from, this.participantId, envelope.keyId),
      },
      wrapping,
      fromBase64(envelope.wrapped),
    );
    if (raw.byteLength !== SENDING_KEY_BYTES) throw new Error("not a sending key");
    return { publisherId: envelope.from, id: envelope.keyId, raw: new Uint8Array(raw) };
  }

  // SHA-256 over the sorted public keys of everyone in the call, shown as
  // groups of five digits: the same on every participant's screen unless
  // someone in between swapped a key.
  async fingerprint() {
    const keys = [this.publicRaw, ...[...this.#others.values()].map((o) => o.publicRaw)];
    keys.sort(compareBytes);
    const joined = new Uint8Array(keys.reduce((sum, key) => sum + key.length, 0));
    let offset = 0;
    for (const key of keys) {
      joined.set(key, offset);
      offset += key.length;
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
    const groups = [];
    for (let group = 0; group < FINGERPRINT_GROUPS; group += 1) {
      let value = 0;
      for (const byte of digest.subarray(group * 5, group * 5 + 5)) {
        value = (value * 256 + byte) % 100000;
      }
      groups.push(String(value).padStart(5, "0"));
    }
    return groups.join(" ");
  }

  async #wrappingKey(from, to) {
    const other = this.#others.get(from === this.participantId ? to : from);
    if (other === undefined) throw new Error("unknown participant");
    return crypto.subtle.deriveKey(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: WRAP_SALT,
        info: new TextEncoder().encode(`${from}\n${to}`),
      },
      other.secret,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  }
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// The worker that encrypts and decrypts frames, and the transforms that lead
// a connection's frames through it.
export class FrameEncryption {
  #requests = new Map();
  #nextRequest = 1;

  constructor(workerUrl = new URL("./e2ee-worker.js", import.meta.url)) {
    this.support = frameEncryptionSupport();
    if (this.support === null) throw new CannotEncrypt();
    this.sendingKeyInUse = null;
    this.worker = new Worker(workerUrl, { name: "e2ee" });
    this.worker.addEventListener("message", (event) => {
      const answer = event.data;
      const resolve = this.#requests.get(answer.requestId);
      if (resolve) {
        this.#requests.delete(answer.requestId);
        resolve(answer);
      }
    });
  }

  // Merged into the RTCPeerConnection's configuration: the older API needs
  // to be asked for before the connection exists.
  get peerConnectionOptions() {
    return this.support === "encoded-streams" ? { encodedInsertableStreams: true } : {};
  }

  // Call right after addTransceiver, before setLocalDescription: Chromium
  // sends the frames of a sender whose transform came later past it, in the
  // clear. ``slot`` names the receiver in report(); its mid is not known yet.
  encrypt(sender, kind) {
    this.#attach(sender, { operation: "encrypt", kind });
  }

  decrypt(receiver, kind, slot) {
    this.#attach(receiver, { operation: "decrypt", kind, slot: String(slot) });
  }

  useSendingKey(sendingKey) {
    this.sendingKeyInUse = sendingKey;
    this.worker.postMessage({ type: "sending-key", keyId: sendingKey.id, raw: sendingKey.raw });
  }

  addReceivingKey({ publisherId, id, raw }) {
    this.worker.postMessage({ type: "receiving-key", publisherId, keyId: id, raw });
  }

  forgetPublisher(publisherId) {
    this.worker.postMessage({ type: "forget", publisherId });
  }

  // What the worker did: frames sent under which key ID, and per receiving
  // slot the frames received, decrypted and dropped and whose key opened them.
  report() {
    const requestId = this.#nextRequest++;
    return new Promise((resolve) => {
      this.#requests.set(requestId, resolve);
      this.worker.postMessage({ type: "report", requestId });
    });
  }

  // Whether the connection's video went through the worker: false when the
  // encoder turned out frames of which the worker encrypted none, as when a
  // transform came too late. The caller must then stop sending.
  async encryptsWhatIsSent(pc) {
    let encoded = 0;
    (await pc.getStats()).forEach((entry) => {
      if (entry.type === "outbound-rtp" && entry.kind === "video") {
        encoded += entry.framesEncoded || 0;
      }
    });
    const { sent } = await this.report();
    return encoded === 0 || sent.video > 0;
  }

  close() {
    this.worker.terminate();
  }

  #attach(endpoint, options) {
    if (this.support === "script-transform") {
      endpoint.transform = new RTCRtpScriptTransform(this.worker, options);
      return;
    }
    const { readable, writable } = endpoint.createEncodedStreams();
    this.worker.postMessage({ type: "streams", options, readable, writable }, [
      readable,
      writable,
    ]);
  }
}

// Takes a new sending key after someone left: gives it to everyone still in
// the call, then, after they had time to take it, encrypts with it.
export async function rotateSendingKey(keys, frames, send) {
  const sendingKey = keys.newSendingKey();
  for (const participantId of keys.participants) {
    send(await keys.wrapFor(participantId, sendingKey));
  }
  await new Promise((resolve) => setTimeout(resolve, KEY_SWITCH_DELAY_MS));
  if (keys.sendingKey === sendingKey) frames.useSendingKey(sendingKey);
  return sendingKey;
}

// Gives a newcomer the key in use and, during a rotation, the next one too.
export async function giveKeysTo(keys, frames, participantId, send) {
  const given = new Set([frames.sendingKeyInUse, keys.sendingKey]);
  for (const sendingKey of given) {
    if (sendingKey) send(await keys.wrapFor(participantId, sendingKey));
  }
}
