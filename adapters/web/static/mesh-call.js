// A group call as a full mesh: one RTCPeerConnection to every other member.
// Media never passes the server; DTLS-SRTP encrypts each pair end to end.
//
// The server names the members in the call (a "peers" message). Of each pair,
// the member ranked first (the practitioner, then p1, p2, ...) makes the
// offer; the other answers. A member who reconnects gets a new tag, so the
// offering side knows to connect afresh.
//
// From the server's threshold on, "peers" says mode "sfu": the mesh closes
// and the media goes through the SFU instead (sfu-call.js), each frame
// encrypted end to end; below it again, the mesh is built anew. Nobody
// rejoins: the tiles stay, only what feeds them changes.

import { SfuSession } from "./sfu-call.js";

// A tag no member has: its mesh connection has to be made anew.
const STALE = "stale";

export function rank(id) {
  return id === "practitioner" ? 0 : Number(id.slice(1)) || 99;
}

export class MeshCall {
  constructor({ iceServers, send, localMedia, tiles, template, describe, onTile, onModeChange }) {
    this.iceServers = iceServers;
    this.iceTransportPolicy = "all";
    this.send = send;
    this.localMedia = localMedia;
    this.tiles = tiles;
    this.template = template;
    this.describe = describe || ((id) => id);
    this.onTile = onTile || (() => {});
    this.onModeChange = onModeChange || (() => {});
    this.selfId = null;
    this.mode = "p2p";
    this.peers = new Map();
    this.sfu = null; // the SfuSession while the mode is "sfu"
    this.keys = null; // CallKeys and FrameEncryption, made for the first SFU
    this.frames = null;
    this.publicKeys = new Map(); // the others' public keys, by member
    this.queue = Promise.resolve();
    localMedia.onTrackReplaced = (kind, track) => this.replaceTrack(kind, track);
    window.sprechzimmerMesh = this;
  }

  configure({ iceServers, iceTransportPolicy }) {
    this.iceServers = iceServers;
    this.iceTransportPolicy = iceTransportPolicy === "relay" ? "relay" : "all";
  }

  // Messages are taken one after the other: a key must not overtake the
  // switch to the SFU it belongs to.
  run(step) {
    this.queue = this.queue.then(step).catch((error) => console.error(error));
    return this.queue;
  }

  // The server's current list of members in the call.
  setPeers(message) {
    return this.run(() => this.followPeers(message));
  }

  async followPeers({ self, mode, sfu, peers }) {
    this.selfId = self;
    const wanted = new Map(peers.map((peer) => [peer.id, peer.tag]));
    for (const id of [...this.peers.keys()]) {
      if (!wanted.has(id)) this.drop(id);
    }
    if (mode === "sfu") {
      await this.followPeersThroughSfu(wanted, sfu);
      return;
    }
    if (this.mode !== mode) {
      this.leaveSfu();
      this.mode = mode;
      this.onModeChange(mode);
    }
    for (const [id, tag] of wanted) {
      const known = this.peers.get(id);
      const offering = rank(self) < rank(id);
      if (known && (known.tag === tag || known.tag === null)) {
        known.tag = tag;
        continue;
      }
      if (known && !offering) {
        // Their new connection will send a new offer, which replaces ours.
        known.tag = tag;
        continue;
      }
      this.entry(id).tag = tag;
      if (offering) await this.offer(id);
    }
  }

  async followPeersThroughSfu(wanted, server) {
    // Another web process's SFU took over the call: offer to that one.
    const moving = this.sfu !== null && this.sfu.server !== server;
    const switching = this.mode !== "sfu" || moving;
    if (moving) this.leaveSfu();
    if (switching) {
      if (this.mode !== "sfu") this.onModeChange("sfu");
      this.mode = "sfu";
      for (const peer of this.peers.values()) {
        peer.pc?.close();
        peer.pc = null;
        peer.pending = [];
        peer.tile.querySelector("video").srcObject = null;
      }
    }
    const newcomers = [];
    for (const [id, tag] of wanted) {
      const known = this.peers.get(id);
      if (!known || (known.tag !== tag && known.tag !== null)) newcomers.push(id);
      this.entry(id).tag = tag;
    }
    if (switching) {
      this.sfu = new SfuSession(this);
      this.sfu.server = server;
      await this.sfu.start();
      return;
    }
    for (const id of newcomers) this.sfu?.greet(id);
    this.sfu?.showTiles();
  }

  leaveSfu() {
    if (!this.sfu) return;
    this.sfu.close();
    this.sfu = null;
    for (const peer of this.peers.values()) {
      if (!peer.pc) peer.tag = STALE;
      peer.tile.querySelector("video").srcObject = null;
    }
  }

  entry(id) {
    let peer = this.peers.get(id);
    if (!peer) {
      peer = { tag: null, pc: null, pending: [], tile: this.addTile(id) };
      this.peers.set(id, peer);
    }
    return peer;
  }

  addTile(id) {
    const tile = this.template.content.firstElementChild.cloneNode(true);
    tile.dataset.peer = id;
    tile.querySelector(".tile-name").textContent = this.describe(id);
    this.tiles.append(tile);
    this.tiles.dataset.count = String(this.tiles.children.length);
    this.onTile(id, tile);
    return tile;
  }

  newConnection(id) {
    const peer = this.entry(id);
    peer.pc?.close();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
    });
    const stream = new MediaStream();
    const video = peer.tile.querySelector("video");
    video.srcObject = stream;
    pc.addEventListener("track", (event) => {
      stream.addTrack(event.track);
      video.play().catch(() => {});
    });
    pc.addEventListener("icecandidate", (event) => {
      this.send({ type: "candidate", to: id, candidate: event.candidate ? event.candidate.toJSON() : null });
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc === peer.pc) peer.tile.dataset.state = pc.connectionState;
    });
    peer.pc = pc;
    peer.pending = [];
    return pc;
  }

  async offer(id) {
    const pc = this.newConnection(id);
    for (const kind of ["audio", "video"]) {
      const track = this.localMedia.track(kind);
      pc.addTransceiver(track || kind, { direction: "sendrecv", streams: [this.localMedia.stream] });
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send({ type: "offer", to: id, sdp: pc.localDescription.sdp });
  }

  handle(message) {
    return this.run(() => this.take(message));
  }

  async take(message) {
    if (message.type === "sfu-answer") {
      await this.sfu?.answered(message);
      return;
    }
    if (message.type === "layout") {
      this.sfu?.follow(message);
      return;
    }
    const id = message.from;
    if (!id) return;
    if (message.type === "e2ee-public-key") {
      this.publicKeys.set(id, message.publicKey);
      if (this.peers.has(id)) await this.sfu?.acceptPublicKey(id, message.publicKey);
      return;
    }
    if (message.type === "e2ee-key") {
      // A key sealed under a public key that has since changed does not open.
      await this.sfu?.acceptKey(message).catch(() => {});
      return;
    }
    if (message.type === "offer") {
      const pc = this.newConnection(id);
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      for (const transceiver of pc.getTransceivers()) {
        const track = this.localMedia.track(transceiver.receiver.track.kind);
        transceiver.direction = "sendrecv";
        if (track) {
          await transceiver.sender.replaceTrack(track);
          transceiver.sender.setStreams?.(this.localMedia.stream);
        }
      }
      await this.flush(id);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      this.send({ type: "answer", to: id, sdp: pc.localDescription.sdp });
      return;
    }
    const peer = this.peers.get(id);
    if (!peer?.pc) return;
    if (message.type === "answer") {
      await peer.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      await this.flush(id);
    } else if (message.type === "candidate" && message.candidate) {
      if (peer.pc.remoteDescription) {
        await peer.pc.addIceCandidate(message.candidate).catch(() => {});
      } else {
        peer.pending.push(message.candidate);
      }
    }
  }

  async flush(id) {
    const peer = this.peers.get(id);
    const waiting = peer.pending;
    peer.pending = [];
    for (const candidate of waiting) {
      await peer.pc.addIceCandidate(candidate).catch(() => {});
    }
  }

  showMediaState(id, { audio, video }) {
    const tile = this.peers.get(id)?.tile;
    if (!tile) return;
    tile.querySelector(".muted-badge").hidden = audio;
    tile.querySelector(".camera-badge").hidden = video;
  }

  async replaceTrack(kind, track) {
    await this.sfu?.replaceTrack(kind, track);
    for (const peer of this.peers.values()) {
      for (const transceiver of peer.pc?.getTransceivers() || []) {
        if (transceiver.receiver.track.kind === kind) await transceiver.sender.replaceTrack(track);
      }
    }
  }

  drop(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    this.publicKeys.delete(id);
    this.sfu?.forget(id);
    peer.pc?.close();
    peer.tile.remove();
    this.tiles.dataset.count = String(this.tiles.children.length);
  }

  // Per member: the video frames decoded from them so far, -1 for none.
  async framesDecoded() {
    const frames = {};
    for (const [id, peer] of this.peers) {
      frames[id] = -1;
      const receiver =
        this.mode === "sfu"
          ? this.sfu?.receiverOf(id, "video")
          : peer.pc?.getReceivers().find((r) => r.track.kind === "video");
      if (!receiver) continue;
      (await receiver.getStats()).forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "video") {
          frames[id] = report.framesDecoded || 0;
        }
      });
    }
    return frames;
  }

  close() {
    this.leaveSfu();
    for (const id of [...this.peers.keys()]) this.drop(id);
    this.frames?.close();
    this.frames = null;
  }
}

// The badge text for a mode.
export function describeMode(mode) {
  return mode === "sfu" ? "SFU · Ende-zu-Ende-verschlüsselt" : "Peer-to-Peer · Ende-zu-Ende-verschlüsselt";
}
