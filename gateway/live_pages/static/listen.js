// Listen in: PCM16 from the gateway, played with the Web Audio API as it arrives.

const LEAD_S = 0.25; // played this far behind what arrived, to ride out network jitter
const MAX_LAG_S = 1.0; // further behind than this, skip ahead rather than drift

export class Listener {
  constructor(url, statusEl) {
    this.url = url;
    this.statusEl = statusEl;
    this.samples = 0;
    this.ws = null;
    this.context = null;
  }

  start() {
    this.context = new AudioContext();
    this.playAt = 0;
    this.rate = 8000;
    this.ws = new WebSocket(this.url);
    this.ws.binaryType = "arraybuffer";
    this.status("Connecting the audio…");
    this.ws.onmessage = (message) => {
      if (typeof message.data === "string") {
        const header = JSON.parse(message.data);
        this.rate = header.sample_rate;
        this.status("Listening.");
        return;
      }
      this.play(new Int16Array(message.data));
    };
    this.ws.onclose = (close) => {
      if (!this.ws) return;
      // 1008 on an open socket: the key was revoked or the session ended meanwhile.
      this.status(close.code === 1000 ? "The call has ended; listening stopped."
        : close.code === 1008 ? "Your session has ended. Sign in again to listen."
        : "Listening is not possible for this call on this gateway (it may have ended).");
      this.release();
      if (this.onStopped) this.onStopped();
    };
  }

  play(pcm) {
    this.samples += pcm.length;
    this.statusEl.dataset.samples = String(this.samples);
    this.status(`Listening: ${(this.samples / this.rate).toFixed(1)} s heard.`);
    const buffer = this.context.createBuffer(1, pcm.length, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const now = this.context.currentTime;
    if (this.playAt < now || this.playAt > now + LEAD_S + MAX_LAG_S) this.playAt = now + LEAD_S;
    source.start(this.playAt);
    this.playAt += buffer.duration;
  }

  stop() {
    this.status("Not listening.");
    this.release();
  }

  release() {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    if (this.context) this.context.close();
    this.context = null;
  }

  status(text) { this.statusEl.textContent = text; }
}
