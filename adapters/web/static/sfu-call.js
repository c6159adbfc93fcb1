// A group call's media through the SFU, encrypted end to end (see e2ee.js).
//
// The browser makes one connection, to the server: it sends its camera and
// microphone once, and offers a receiving slot per kind for each other member.
// The server answers (sfu-answer) and, whenever someone comes or goes, says
// which slot shows whom (layout). Every frame is encrypted before it leaves
// the browser; the keys go from member to member over the signaling socket,
// sealed for one recipient (e2ee-key), after both sides exchanged their
// public keys (e2ee-public-key). The server forwards both without being able
// to open them.

import {
  CallKeys,
  FrameEncryption,
  REFUSAL_MESSAGE,
  frameEncryptionSupport,
  giveKeysTo,
  rotateSendingKey,
} from "./e2ee.js";

// One receiving slot per kind for each other member of the largest call.
export const SLOTS_PER_KIND = 8;
const GATHERING_TIMEOUT_MS = 5000;

export class SfuSession {
  constructor(call) {
    this.call = call;
    this.pc = null;
    this.keys = null;
    this.frames = null;
    this.refused = false;
    this.closed = false;
    this.layoutSeq = -1;
    this.slots = [];
  }

  async start() {
    const call = this.call;
    if (frameEncryptionSupport() === null) {
      this.refused = true;
      showRefusal(REFUSAL_MESSAGE);
      return;
    }
    call.frames ??= new FrameEncryption();
    if (call.keys?.participantId !== call.selfId) call.keys = await CallKeys.create(call.selfId);
    this.keys = call.keys;
    this.frames = call.frames;
    // A sending key of its own for each time the call goes through the SFU:
    // whoever left in between cannot read what follows.
    this.frames.useSendingKey(this.keys.newSendingKey());
    for (const id of call.peers.keys()) this.greet(id);
    for (const [id, publicKey] of call.publicKeys) {
      if (call.peers.has(id)) await this.acceptPublicKey(id, publicKey).catch(() => {});
    }
    await this.showSecurityCode();
    await this.connect();
  }

  async connect() {
    const call = this.call;
    const pc = new RTCPeerConnection({
      iceServers: call.iceServers,
      iceTransportPolicy: call.iceTransportPolicy,
      bundlePolicy: "max-bundle",
      ...this.frames.peerConnectionOptions,
    });
    this.pc = pc;
    pc.addEventListener("connectionstatechange", () => {
      document.getElementById("call")?.setAttribute("data-sfu-state", pc.connectionState);
    });
    // The transforms right after addTransceiver: Chromium sends the frames of
    // a sender whose transform came later in the clear.
    for (const kind of ["audio", "video"]) {
      const track = call.localMedia.track(kind);
      if (!track) continue;
      const { sender } = pc.addTransceiver(track, {
        direction: "sendonly",
        streams: [call.localMedia.stream],
      });
      this.frames.encrypt(sender, kind);
    }
    for (const kind of ["audio", "video"]) {
      for (let n = 0; n < SLOTS_PER_KIND; n += 1) {
        const { receiver } = pc.addTransceiver(kind, { direction: "recvonly" });
        this.frames.decrypt(receiver, kind, `${kind}-${n}`);
      }
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    if (this.closed) return;
    call.send({ type: "sfu-offer", sdp: pc.localDescription.sdp });
  }

  async answered({ sdp, slots, seq }) {
    if (this.closed || this.pc?.signalingState !== "have-local-offer") return;
    await this.pc.setRemoteDescription({ type: "answer", sdp });
    this.follow({ slots, seq });
  }

  // Which slot shows whom: each member's tile gets the tracks of its slots.
  follow({ slots, seq }) {
    if (this.closed || seq < this.layoutSeq) return;
    this.layoutSeq = seq;
    this.slots = slots;
    this.showTiles();
  }

  showTiles() {
    if (!this.pc) return;
    for (const [id, peer] of this.call.peers) {
      const tracks = [];
      for (const kind of ["video", "audio"]) {
        const receiver = this.receiverOf(id, kind);
        if (receiver) tracks.push(receiver.track);
      }
      const shown = tracks.map((track) => track.id).join(" ");
      if (peer.sfuTracks === shown) continue;
      peer.sfuTracks = shown;
      const video = peer.tile.querySelector("video");
      video.srcObject = tracks.length ? new MediaStream(tracks) : null;
      video.play().catch(() => {});
      peer.tile.dataset.state = tracks.length ? "connected" : "new";
    }
  }

  receiverOf(id, kind) {
    const slot = this.slots.find((s) => s.publisher_id === id && s.kind === kind);
    if (!slot || !this.pc) return null;
    const transceiver = this.pc.getTransceivers().find((t) => t.mid === slot.mid);
    return transceiver ? transceiver.receiver : null;
  }

  // Tells a member this browser's public key, so that it can send its keys.
  greet(id) {
    if (this.keys) this.call.send({ type: "e2ee-public-key", to: id, publicKey: this.keys.publicKey });
  }

  async acceptPublicKey(id, publicKey) {
    if (!this.keys) return;
    await this.keys.addParticipant(id, publicKey);
    await giveKeysTo(this.keys, this.frames, id, (sealed) => this.sendKey(sealed));
    await this.showSecurityCode();
  }

  async acceptKey(message) {
    if (!this.keys) return;
    // The server says who sent it; this browser is whom it was sent to.
    const received = await this.keys.unwrap({ ...message, to: this.keys.participantId });
    this.frames.addReceivingKey(received);
  }

  // Someone left: nobody gives them the keys from now on.
  forget(id) {
    if (!this.keys) return;
    this.keys.removeParticipant(id);
    this.frames.forgetPublisher(id);
    // Not awaited: the others' new keys must be taken in meanwhile.
    rotateSendingKey(this.keys, this.frames, (sealed) => this.sendKey(sealed)).catch(() => {});
    this.showSecurityCode().catch(() => {});
  }

  sendKey({ to, keyId, iv, wrapped }) {
    if (!this.closed) this.call.send({ type: "e2ee-key", to, keyId, iv, wrapped });
  }

  async showSecurityCode() {
    const code = document.getElementById("security-code");
    if (!code || !this.keys || this.closed) return;
    code.querySelector("#fingerprint").textContent = await this.keys.fingerprint();
    code.hidden = false;
  }

  async replaceTrack(kind, track) {
    for (const transceiver of this.pc?.getTransceivers() || []) {
      if (transceiver.direction === "sendonly" && transceiver.receiver.track.kind === kind) {
        await transceiver.sender.replaceTrack(track);
      }
    }
  }

  // Whether this browser's video went through the encrypting worker.
  async encryptsWhatIsSent() {
    return this.pc && this.frames ? this.frames.encryptsWhatIsSent(this.pc) : false;
  }

  close() {
    this.closed = true;
    this.pc?.close();
    this.pc = null;
    for (const peer of this.call.peers.values()) peer.sfuTracks = undefined;
    const code = document.getElementById("security-code");
    if (code) code.hidden = true;
    const refusal = document.getElementById("e2ee-refusal");
    if (refusal) refusal.hidden = true;
  }
}

function showRefusal(text) {
  const refusal = document.getElementById("e2ee-refusal");
  if (!refusal) return;
  refusal.textContent = text;
  refusal.hidden = false;
}

function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHERING_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
