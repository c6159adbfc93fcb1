// Sound: how loud the microphone hears, and a test tone for the speakers.

export function speakerChoiceSupported() {
  return "setSinkId" in HTMLMediaElement.prototype;
}

// Shows the microphone's level on a <meter> and remembers the loudest moment.
export class LevelMeter {
  constructor(audioContext, meter) {
    this.audioContext = audioContext;
    this.meter = meter;
    this.analyser = audioContext.createAnalyser();
    this.samples = new Float32Array(this.analyser.fftSize);
    this.source = null;
    this.peak = 0;
    this.running = false;
  }

  listenTo(stream) {
    this.source?.disconnect();
    this.source = this.audioContext.createMediaStreamSource(stream);
    this.source.connect(this.analyser);
    if (!this.running) {
      this.running = true;
      this.draw();
    }
  }

  draw() {
    if (!this.running) return;
    this.analyser.getFloatTimeDomainData(this.samples);
    let loudest = 0;
    for (const sample of this.samples) loudest = Math.max(loudest, Math.abs(sample));
    this.peak = Math.max(this.peak, loudest);
    this.meter.value = Math.min(1, loudest * 2);
    requestAnimationFrame(() => this.draw());
  }

  // The loudest level heard within the next `seconds`, from 0 to 1.
  async loudestWithin(seconds) {
    this.peak = 0;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    return this.peak;
  }

  stop() {
    this.running = false;
    this.source?.disconnect();
  }
}

// A soft 440 Hz tone, through `audioElement` when the speaker can be chosen.
export async function playTestTone(audioContext, audioElement, sinkId, seconds = 1.5) {
  await audioContext.resume();
  const oscillator = audioContext.createOscillator();
  const volume = audioContext.createGain();
  const now = audioContext.currentTime;
  oscillator.frequency.value = 440;
  // Fading in and out avoids a click at the start and the end.
  volume.gain.setValueAtTime(0, now);
  volume.gain.linearRampToValueAtTime(0.3, now + 0.05);
  volume.gain.setValueAtTime(0.3, now + seconds - 0.1);
  volume.gain.linearRampToValueAtTime(0, now + seconds);
  oscillator.connect(volume);
  if (speakerChoiceSupported() && audioElement) {
    const destination = audioContext.createMediaStreamDestination();
    volume.connect(destination);
    audioElement.srcObject = destination.stream;
    if (sinkId) await audioElement.setSinkId(sinkId).catch(() => {});
    await audioElement.play().catch(() => {});
  } else {
    volume.connect(audioContext.destination);
  }
  oscillator.start(now);
  oscillator.stop(now + seconds);
  await new Promise((resolve) => { oscillator.onended = resolve; });
}
