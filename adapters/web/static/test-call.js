// A short test call to the server, which sends picture and sound straight
// back: the connection path, round-trip time, packet loss and frame rate.

import { refusalOf } from "./throughput.js";

const decimal = new Intl.NumberFormat("de-DE", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const TEST_WIDTH = 320;

export class TestCallFailed extends Error {
  constructor(message, refused = false) {
    super(message);
    this.name = "TestCallFailed";
    this.refused = refused;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runTestCall({ stream, iceServers, seconds = 5, remoteVideo }) {
  const pc = new RTCPeerConnection({ iceServers });
  const synthetic = stream.getVideoTracks().length ? null : movingPicture();
  try {
    for (const track of [...stream.getTracks(), ...(synthetic ? [synthetic.track] : [])]) {
      const sender = pc.addTrack(track, stream);
      if (track.kind === "video") await sendSmall(sender, track);
    }
    const received = new MediaStream();
    pc.addEventListener("track", (event) => received.addTrack(event.track));
    if (remoteVideo) remoteVideo.srcObject = received;

    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc, 5000);
    const response = await fetch("/technikcheck/testanruf", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }),
    });
    if (!response.ok) throw new TestCallFailed((await refusalOf(response)).message, true);
    const answer = await response.json();
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    await connected(pc, 10_000);

    await sleep(1000); // The echo needs a moment before its first picture.
    const before = await pc.getStats();
    const begun = performance.now();
    await sleep(seconds * 1000);
    const after = await pc.getStats();
    return callFigures(before, after, (performance.now() - begun) / 1000);
  } finally {
    pc.close();
    synthetic?.stop();
    if (remoteVideo) remoteVideo.srcObject = null;
  }
}

async function sendSmall(sender, track) {
  // The test is about the network, not the camera: a small picture keeps
  // the server's work per call low.
  const parameters = sender.getParameters();
  if (!parameters.encodings?.length) return;
  const width = track.getSettings().width || TEST_WIDTH;
  parameters.encodings[0].scaleResolutionDownBy = Math.max(1, width / TEST_WIDTH);
  await sender.setParameters(parameters).catch(() => {});
}

function movingPicture() {
  // Without a camera the test call sends a drawn picture instead.
  const canvas = document.createElement("canvas");
  canvas.width = TEST_WIDTH;
  canvas.height = 240;
  const context = canvas.getContext("2d");
  let step = 0;
  const draw = () => {
    context.fillStyle = "#5b6670";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = "#ffffff";
    context.fillRect((step += 4) % canvas.width, 0, 16, canvas.height);
  };
  const track = canvas.captureStream(30).getVideoTracks()[0];
  const timer = setInterval(draw, 33);
  return {
    track,
    stop() {
      clearInterval(timer);
      track.stop();
    },
  };
}

function gatheringComplete(pc, timeout) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeout); // Then send what was gathered so far.
  });
}

function connected(pc, timeout) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === "connected") resolve();
      if (pc.connectionState === "failed") reject(new TestCallFailed("Die Verbindung kam nicht zustande."));
    };
    pc.addEventListener("connectionstatechange", check);
    check();
    setTimeout(() => reject(new TestCallFailed("Die Verbindung kam nicht zustande.")), timeout);
  });
}

function callFigures(before, after, seconds) {
  const pair = selectedPair(after);
  const local = pair && after.get(pair.localCandidateId);
  const remote = pair && after.get(pair.remoteCandidateId);
  const types = [local?.candidateType, remote?.candidateType];
  const path = types.includes("relay") ? "relay" : types.some((t) => t === "srflx" || t === "prflx") ? "reflexive" : "direct";

  let rtt = pair?.currentRoundTripTime;
  const delta = (report, name) => (report?.[name] ?? 0) - (before.get(report?.id)?.[name] ?? 0);
  let lostBack = 0;
  let receivedBack = 0;
  let lostOut = 0;
  let sentOut = 0;
  let frames = 0;
  after.forEach((report) => {
    if (report.type === "inbound-rtp") {
      lostBack += Math.max(0, delta(report, "packetsLost"));
      receivedBack += delta(report, "packetsReceived");
      if (report.kind === "video") frames += delta(report, "framesDecoded");
    } else if (report.type === "outbound-rtp") {
      sentOut += delta(report, "packetsSent");
    } else if (report.type === "remote-inbound-rtp") {
      lostOut += Math.max(0, delta(report, "packetsLost"));
      rtt ??= report.roundTripTime;
    }
  });
  return {
    path,
    rttMs: rtt === undefined ? null : Math.round(rtt * 1000),
    lossOut: sentOut ? (100 * lostOut) / sentOut : 0,
    lossBack: receivedBack + lostBack ? (100 * lostBack) / (receivedBack + lostBack) : 0,
    fps: frames / seconds,
  };
}

function selectedPair(stats) {
  let pair = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId);
    }
  });
  if (pair) return pair;
  // Firefox marks the pair itself instead.
  stats.forEach((report) => {
    if (report.type === "candidate-pair" && (report.selected || (report.nominated && report.state === "succeeded"))) {
      pair = report;
    }
  });
  return pair;
}

const PATHS = {
  direct: "direkt (Host)",
  reflexive: "über Ihre öffentliche Internetadresse (reflexiv)",
  relay: "über einen Relay-Server (TURN)",
};

export function testCallVerdict(figures) {
  const loss = Math.max(figures.lossOut, figures.lossBack);
  const rtt = figures.rttMs === null ? "nicht gemessen" : `${figures.rttMs} ms`;
  const fps = Math.round(figures.fps);
  const text = `Weg: ${PATHS[figures.path]} · Umlaufzeit: ${rtt} · ` +
    `Paketverlust: ${decimal.format(loss)} % · empfangene Bildrate: ${fps} Bilder/s`;
  const hints = [];
  let state = "ok";
  const worse = (level) => { if (level === "fail" || state === "ok") state = level; };
  if (figures.path === "relay") {
    hints.push("Ihr Netz erlaubt keine direkte Verbindung; das Gespräch läuft über einen Relay-Server. Das funktioniert, die Verzögerung kann aber etwas höher sein.");
  }
  if (figures.rttMs !== null && figures.rttMs > 300) {
    worse("warn");
    hints.push("Die Verzögerung ist hoch: Sie könnten sich gegenseitig ins Wort fallen. Ein Netzwerkkabel oder ein näherer WLAN-Router helfen oft.");
  }
  if (loss > 5) {
    worse("fail");
    hints.push("Es gehen viele Datenpakete verloren, Bild und Ton werden stocken. Verbessern Sie den WLAN-Empfang oder beenden Sie andere Übertragungen.");
  } else if (loss > 2) {
    worse("warn");
    hints.push("Es gehen einige Datenpakete verloren; Bild und Ton können kurz stocken.");
  }
  if (fps < 8) {
    worse("fail");
    hints.push("Das zurückgeschickte Bild ruckelt stark. Schließen Sie andere Programme; liegt es nicht an Ihnen, ist unser Server gerade ausgelastet – versuchen Sie es später noch einmal.");
  } else if (fps < 15) {
    worse("warn");
    hints.push("Das zurückgeschickte Bild ist etwas ruckelig. Schließen Sie andere Programme, die Ihr Gerät oder Ihre Verbindung auslasten.");
  }
  return {
    state,
    result: `Verbunden. ${text}.`,
    hint: hints.join(" "),
    summary: `Testanruf: verbunden; ${text}`,
  };
}

export function testCallFailedVerdict(error) {
  const refused = error instanceof TestCallFailed && error.refused;
  return {
    state: refused ? "warn" : "fail",
    result: refused ? `Testanruf nicht möglich: ${error.message}` : "Der Testanruf kam nicht zustande.",
    hint: refused
      ? "Das liegt am Server, nicht an Ihnen. Versuchen Sie den Check etwas später noch einmal."
      : "Ihr Netz lässt die Videoverbindung nicht durch, häufig wegen einer Firmen-Firewall oder " +
        "eines VPN. Versuchen Sie es ohne VPN oder in einem anderen Netz (z. B. Mobilfunk).",
    summary: refused ? `Testanruf: nicht möglich (${error.message})` : "Testanruf: keine Verbindung",
  };
}
