// One peer-to-peer call: RTCPeerConnection between the two browsers.
// Media never passes the server; DTLS-SRTP encrypts it end to end.

export class PeerCall {
  constructor({ iceServers, send, localMedia, remoteVideo, onConnected, onDisconnected }) {
    this.iceServers = iceServers;
    this.iceTransportPolicy = "all";
    this.send = send;
    this.localMedia = localMedia;
    this.remoteVideo = remoteVideo;
    this.onConnected = onConnected || (() => {});
    this.onDisconnected = onDisconnected || (() => {});
    this.pc = null;
    this.pendingCandidates = [];
    localMedia.onTrackReplaced = (kind, track) => this.replaceTrack(kind, track);
    window.sprechzimmer = this;
  }

  get peerConnection() {
    return this.pc;
  }

  // The server's latest ICE servers, with TURN credentials of this connection;
  // they apply to the next RTCPeerConnection.
  configure({ iceServers, iceTransportPolicy }) {
    this.iceServers = iceServers;
    this.iceTransportPolicy = iceTransportPolicy === "relay" ? "relay" : "all";
  }

  newConnection() {
    this.close();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
    });
    const remoteStream = new MediaStream();
    this.remoteVideo.srcObject = remoteStream;
    pc.addEventListener("track", (event) => {
      remoteStream.addTrack(event.track);
      this.remoteVideo.play().catch(() => {});
    });
    pc.addEventListener("icecandidate", (event) => {
      this.send({ type: "candidate", candidate: event.candidate ? event.candidate.toJSON() : null });
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "connected") this.reportPath();
      if (pc.connectionState === "failed" || pc.connectionState === "disconnected") {
        this.onDisconnected(pc.connectionState);
      }
    });
    this.pc = pc;
    this.pendingCandidates = [];
    return pc;
  }

  async start() {
    const pc = this.newConnection();
    for (const kind of ["audio", "video"]) {
      const track = this.localMedia.track(kind);
      pc.addTransceiver(track || kind, {
        direction: "sendrecv",
        streams: [this.localMedia.stream],
      });
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send({ type: "offer", sdp: pc.localDescription.sdp });
  }

  async handle(message) {
    if (message.type === "offer") {
      const pc = this.newConnection();
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      for (const transceiver of pc.getTransceivers()) {
        const kind = transceiver.receiver.track.kind;
        const track = this.localMedia.track(kind);
        transceiver.direction = "sendrecv";
        if (track) {
          await transceiver.sender.replaceTrack(track);
          transceiver.sender.setStreams?.(this.localMedia.stream);
        }
      }
      await this.flushCandidates();
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      this.send({ type: "answer", sdp: pc.localDescription.sdp });
    } else if (message.type === "answer" && this.pc) {
      await this.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      await this.flushCandidates();
    } else if (message.type === "candidate" && this.pc) {
      if (!message.candidate) return;
      if (this.pc.remoteDescription) {
        await this.pc.addIceCandidate(message.candidate).catch(() => {});
      } else {
        this.pendingCandidates.push(message.candidate);
      }
    }
  }

  async flushCandidates() {
    const waiting = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const candidate of waiting) {
      await this.pc.addIceCandidate(candidate).catch(() => {});
    }
  }

  async replaceTrack(kind, track) {
    if (!this.pc) return;
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.receiver.track.kind === kind) {
        await transceiver.sender.replaceTrack(track);
      }
    }
  }

  async reportPath() {
    // Which way the media flows: direct, via a public address, or relayed.
    // Right after "connected" the statistics may not name the pair yet.
    const pc = this.pc;
    let path = null;
    for (let attempt = 0; attempt < 20 && path === null && pc === this.pc; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      path = await selectedPath(pc);
    }
    if (pc === this.pc) this.onConnected(path || "direct");
  }

  close() {
    if (this.pc) {
      const pc = this.pc;
      this.pc = null;
      pc.close();
    }
    this.remoteVideo.srcObject = null;
  }
}

async function selectedPath(pc) {
  try {
    const stats = await pc.getStats();
    let pairId = null;
    stats.forEach((report) => {
      if (report.type === "transport" && report.selectedCandidatePairId) {
        pairId = report.selectedCandidatePairId;
      }
    });
    const pair = pairId ? stats.get(pairId) : null;
    if (!pair) return null;
    const types = [stats.get(pair.localCandidateId), stats.get(pair.remoteCandidateId)]
      .map((candidate) => candidate?.candidateType);
    if (types.includes("relay")) return "relay";
    if (types.includes("srflx")) return "reflexive";
    return "direct";
  } catch {
    // Statistics are a nicety; the call works without them.
    return "direct";
  }
}

export function describePath(path) {
  if (path === "relay") {
    return "Ende-zu-Ende-verschlüsselt · über Relay-Server (der Server kann nichts entschlüsseln)";
  }
  return "Peer-to-Peer · Ende-zu-Ende-verschlüsselt";
}
