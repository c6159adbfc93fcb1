// The public tech check: one check after another, each with a verdict and a
// hint, then a summary without personal data to send to the practice.

import { browserVerdict } from "./browser-support.js";
import { LocalMedia, deviceErrorText } from "./devices.js";
import { LevelMeter, playTestTone, speakerChoiceSupported } from "./sound-check.js";
import { runTestCall, testCallFailedVerdict, testCallVerdict } from "./test-call.js";
import {
  THRESHOLDS, bandwidthVerdict, measureDownload, measureUpload, measurementFailed,
} from "./throughput.js";

const page = document.getElementById("tech-check");
const iceServers = JSON.parse(page.dataset.iceServers);
const serverCap = Number(page.dataset.maxTransferBytes) || undefined;
const localVideo = document.getElementById("local-video");
const speakerAudio = document.getElementById("speaker-audio");
const speakerSelect = document.getElementById("speaker-select");
const speakerQuestion = document.getElementById("speaker-question");
const echoVideo = document.getElementById("echo-video");
const summarySection = document.getElementById("check-summary");
const summaryText = document.getElementById("summary-text");
const copyStatus = document.getElementById("copy-status");

const ORDER = ["browser", "camera", "microphone", "speaker", "download", "upload", "call"];
const SYMBOLS = { ok: "✔", warn: "⚠", fail: "✘", ask: "?", running: "…" };
const verdicts = new Map();
let finished = false;
let checkedAt = new Date();
let audioContext = null;
let meter = null;

const localMedia = new LocalMedia({
  videoElement: localVideo,
  cameraSelect: document.getElementById("camera-select"),
  microphoneSelect: document.getElementById("microphone-select"),
});
localMedia.onTrackReplaced = (kind) => {
  if (kind === "audio") meter?.listenTo(localMedia.stream);
};

function row(name) {
  return document.getElementById(`check-${name}`);
}

function show(name, verdict) {
  verdicts.set(name, verdict);
  row(name).dataset.state = verdict.state;
  row(name).querySelector(".check-result").textContent = `${SYMBOLS[verdict.state]} ${verdict.result}`;
  row(name).querySelector(".check-hint").textContent = verdict.hint || "";
  if (finished) writeSummary();
}

function running(name, text) {
  row(name).dataset.state = "running";
  row(name).querySelector(".check-result").textContent = `${SYMBOLS.running} ${text}`;
}

async function pictureSize(video, timeout) {
  const deadline = performance.now() + timeout;
  while (performance.now() < deadline) {
    if (video.videoWidth > 0) return [video.videoWidth, video.videoHeight];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}

async function checkCamera() {
  running("camera", "Kamera und Mikrofon werden gestartet – bitte erlauben Sie den Zugriff.");
  let stream;
  try {
    stream = await localMedia.start();
  } catch (error) {
    const verdict = {
      state: "fail",
      result: deviceErrorText(error),
      hint: "Ohne Kamera und Mikrofon kann Ihre Praxis Sie im Termin weder sehen noch hören.",
      summary: `Kamera: nicht verfügbar (${error.name})`,
    };
    show("camera", verdict);
    show("microphone", { ...verdict, summary: `Mikrofon: nicht verfügbar (${error.name})` });
    return null;
  }
  document.getElementById("camera-preview").hidden = false;
  const size = stream.getVideoTracks().length ? await pictureSize(localVideo, 5000) : null;
  if (!size) {
    show("camera", {
      state: "fail",
      result: stream.getVideoTracks().length ? "Die Kamera liefert kein Bild." : "Keine Kamera gefunden.",
      hint: "Schließen Sie andere Programme, die die Kamera nutzen, wählen Sie eine andere Kamera " +
        "oder nutzen Sie ein Gerät mit Kamera (z. B. Ihr Smartphone).",
      summary: "Kamera: kein Bild",
    });
  } else {
    const cameras = document.getElementById("camera-select").options.length;
    show("camera", {
      state: "ok",
      result: `Ihre Kamera liefert ein Bild (${size[0]} × ${size[1]} Pixel). Sehen Sie sich?`,
      hint: cameras > 1 ? "Sie haben mehrere Kameras: Wählen Sie unten die gewünschte." : "",
      summary: `Kamera: liefert Bild (${size[0]}×${size[1]})`,
    });
  }
  return stream;
}

async function checkMicrophone(stream) {
  if (!stream.getAudioTracks().length || !meter) {
    show("microphone", {
      state: "fail",
      result: "Kein Mikrofon gefunden.",
      hint: "Schließen Sie ein Headset oder Mikrofon an.",
      summary: "Mikrofon: keines gefunden",
    });
    return;
  }
  document.getElementById("microphone-preview").hidden = false;
  running("microphone", "Bitte sagen Sie etwas – wir hören drei Sekunden lang zu.");
  meter.listenTo(stream);
  const loudest = await meter.loudestWithin(3);
  if (loudest >= 0.02) {
    show("microphone", {
      state: "ok",
      result: `Ihr Mikrofon nimmt Ton auf (lautester Moment: ${Math.min(100, Math.round(loudest * 100))} %).`,
      hint: "",
      summary: "Mikrofon: nimmt Ton auf",
    });
  } else {
    show("microphone", {
      state: "warn",
      result: "Wir haben nichts gehört.",
      hint: "Sprechen Sie etwas und achten Sie auf den Pegel. Prüfen Sie, ob das Mikrofon " +
        "stummgeschaltet ist, oder wählen Sie unten ein anderes.",
      summary: "Mikrofon: kein Ton gehört",
    });
  }
}

async function fillSpeakers() {
  if (!speakerChoiceSupported()) return;
  const outputs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audiooutput");
  speakerSelect.replaceChildren(...outputs.map((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `Lautsprecher ${index + 1}`;
    return option;
  }));
  document.getElementById("speaker-choice").hidden = outputs.length < 2;
}

async function playTone() {
  if (!audioContext) return;
  speakerQuestion.hidden = true;
  running("speaker", "Wir spielen einen Testton ab …");
  await playTestTone(audioContext, speakerAudio, speakerSelect.value);
  speakerQuestion.hidden = false;
  show("speaker", {
    state: "ask",
    result: "Haben Sie den Testton gehört? Bitte antworten Sie mit „Ja, gehört“ oder „Nein“.",
    hint: "",
    summary: "Lautsprecher: nicht bestätigt",
  });
}

async function checkSpeaker() {
  if (!audioContext) {
    show("speaker", {
      state: "fail",
      result: "Ihr Browser kann keinen Testton abspielen.",
      hint: "Bitte nutzen Sie einen aktuellen Chrome, Firefox oder Safari.",
      summary: "Lautsprecher: nicht prüfbar",
    });
    return;
  }
  document.getElementById("speaker-preview").hidden = false;
  await fillSpeakers().catch(() => {});
  await playTone();
}

function answerSpeaker(heard) {
  show("speaker", heard
    ? { state: "ok", result: "Sie haben den Testton gehört.", hint: "", summary: "Lautsprecher: Testton gehört" }
    : {
      state: "fail",
      result: "Sie haben den Testton nicht gehört.",
      hint: "Stellen Sie den Ton lauter, heben Sie eine Stummschaltung auf, wählen Sie einen " +
        "anderen Lautsprecher oder schließen Sie Kopfhörer an und spielen Sie den Ton noch einmal ab.",
      summary: "Lautsprecher: Testton nicht gehört",
    });
}

async function checkThroughput(direction, measure) {
  running(direction, `${THRESHOLDS[direction].name} wird gemessen …`);
  try {
    show(direction, bandwidthVerdict(direction, await measure({ serverCap })));
  } catch (error) {
    show(direction, measurementFailed(direction, error));
  }
}

async function checkTestCall(stream) {
  running("call", "Der Testanruf läuft, etwa zehn Sekunden …");
  echoVideo.hidden = false;
  try {
    const figures = await runTestCall({
      stream: stream || new MediaStream(), iceServers, seconds: 5, remoteVideo: echoVideo,
    });
    show("call", testCallVerdict(figures));
  } catch (error) {
    show("call", testCallFailedVerdict(error));
  }
  echoVideo.hidden = true;
}

function overall() {
  const states = [...verdicts.values()].map((verdict) => verdict.state);
  if (states.includes("fail")) {
    return "Ergebnis: Es gibt Probleme. Bitte beachten Sie die Hinweise oder wenden Sie sich an Ihre Praxis.";
  }
  if (states.includes("warn") || states.includes("ask")) {
    return "Ergebnis: Die Videosprechstunde sollte funktionieren; bitte beachten Sie die Hinweise.";
  }
  return "Ergebnis: Alles bereit für die Videosprechstunde.";
}

function writeSummary() {
  const when = new Intl.DateTimeFormat("de-DE", { dateStyle: "medium", timeStyle: "short" }).format(checkedAt);
  summaryText.textContent = [
    `Sprechzimmer – Technikcheck vom ${when}`,
    ...ORDER.map((name) => verdicts.get(name)?.summary).filter(Boolean),
    overall(),
  ].join("\n");
  summarySection.hidden = false;
}

async function copySummary() {
  try {
    await navigator.clipboard.writeText(summaryText.textContent);
    copyStatus.textContent = "Kopiert. Fügen Sie den Text z. B. in eine E-Mail an Ihre Praxis ein.";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(summaryText);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    copyStatus.textContent = "Der Text ist markiert: Kopieren Sie ihn mit Strg+C (Mac: ⌘+C).";
  }
}

async function runAllChecks() {
  const start = document.getElementById("start-check");
  start.disabled = true;
  // Made within the click, so that browsers allow it to play sound.
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  audioContext = AudioContextClass ? new AudioContextClass() : null;
  meter = audioContext ? new LevelMeter(audioContext, document.getElementById("mic-level")) : null;
  checkedAt = new Date();

  show("browser", browserVerdict());
  const stream = await checkCamera();
  if (stream) await checkMicrophone(stream);
  await checkSpeaker();
  await checkThroughput("download", measureDownload);
  await checkThroughput("upload", measureUpload);
  await checkTestCall(stream);
  finished = true;
  writeSummary();
  start.hidden = true;
}

document.getElementById("start-check").addEventListener("click", runAllChecks);
// The button works only once this script runs; until then it stays disabled.
document.getElementById("start-check").disabled = false;
document.getElementById("speaker-yes").addEventListener("click", () => answerSpeaker(true));
document.getElementById("speaker-no").addEventListener("click", () => answerSpeaker(false));
document.getElementById("speaker-again").addEventListener("click", () => playTone());
document.getElementById("copy-summary").addEventListener("click", copySummary);
document.getElementById("check-again").addEventListener("click", () => location.reload());
