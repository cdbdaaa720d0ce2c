// 网上语音咨询: the IVR over a WebSocket. Microphone -> 16 kHz PCM frames; prompts <- 16 kHz PCM.
(function () {
  "use strict";
  const RATE = 16000;
  const startBtn = document.getElementById("voice-start");
  const stopBtn = document.getElementById("voice-stop");
  const statusEl = document.getElementById("voice-status");
  const captions = document.getElementById("voice-captions");
  const keys = document.querySelectorAll(".keypad .key");
  let ws = null, ctx = null, stream = null, playing = [], playAt = 0;

  function setStatus(text) { statusEl.textContent = text; }
  function caption(text, cls) {
    const li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    captions.appendChild(li);
    captions.scrollTop = captions.scrollHeight;
  }
  function enable(on) {
    startBtn.disabled = on;
    stopBtn.disabled = !on;
    keys.forEach(function (k) { k.disabled = !on; });
  }
  function stopPlayback() {
    playing.forEach(function (s) { try { s.stop(); } catch (e) { /* already ended */ } });
    playing = [];
    playAt = 0;
  }
  function play(buffer) {
    const pcm = new Int16Array(buffer);
    const audio = ctx.createBuffer(1, pcm.length, RATE);
    const data = audio.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 0x8000;
    const src = ctx.createBufferSource();
    src.buffer = audio;
    src.connect(ctx.destination);
    playAt = Math.max(playAt, ctx.currentTime);
    src.start(playAt);
    playAt += audio.duration;
    playing.push(src);
  }
  function finish(text) {
    enable(false);
    setStatus(text);
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    if (ws && ws.readyState <= 1) ws.close();
    ws = null;
  }

  async function start() {
    enable(true);
    setStatus("正在接通…");
    captions.innerHTML = "";
    try {
      ctx = new AudioContext({ sampleRate: RATE });
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
      await ctx.audioWorklet.addModule("/static/voice-worklet.js");
    } catch (err) {
      finish("无法使用麦克风，请检查浏览器权限。您仍可拨打 12345。");
      return;
    }
    const mic = new AudioWorkletNode(ctx, "mic-capture");
    ctx.createMediaStreamSource(stream).connect(mic);
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/voice/ws");
    ws.binaryType = "arraybuffer";
    mic.port.onmessage = function (e) { if (ws && ws.readyState === 1) ws.send(e.data); };
    ws.onopen = function () { setStatus("通话中"); };
    ws.onmessage = function (e) {
      if (typeof e.data !== "string") { play(e.data); return; }
      const msg = JSON.parse(e.data);
      if (msg.type === "prompt" && msg.text) caption(msg.text);
      else if (msg.type === "stop") stopPlayback();
      else if (msg.type === "hangup") finish("通话已结束");
    };
    ws.onclose = function () { if (ws) finish("通话已结束"); };
    ws.onerror = function () { finish("连接中断，请稍后再试或拨打 12345。"); };
  }

  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", function () {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "hangup" }));
    stopPlayback();
    finish("通话已结束");
  });
  keys.forEach(function (k) {
    k.addEventListener("click", function () {
      if (ws && ws.readyState === 1) {
        stopPlayback();
        ws.send(JSON.stringify({ type: "digit", digit: k.dataset.key }));
      }
    });
  });
})();
