// The call desk (district/console/call_desk.py says what the page is for): the agent's
// signaling socket, the queue, and the WebRTC answer to the station's offer.
//
// The messages are those of kiosk/remote/protocol.py. The kiosk always offers; this page
// answers once its ICE gathering is done (no trickle), with the ICE servers the district
// minted for the call. A new offer for the same call (a lost path: aiortc cannot restart
// ICE) replaces the peer connection. The socket pings every ping_s and counts the
// district gone after silent_s without a frame; it then reconnects, backing off.
//
// A supervisor (config.role) also sees the group's calls whose agent asked for help, and
// joins one: the district sends a CallInfo with `watching`, the kiosk offers a second
// stream (leg "supervisor") that this page answers without camera or microphone. Taking
// over turns the page into the call's agent (a fresh CallInfo and a fresh offer on the
// agent's leg, the chat and pictures kept); "leave" ends only the supervisor's part.
//
// Opened as /console/call?callback=ID (the call-back page's button), the page calls that
// station once its socket is up (`ring`): the call is the agent's at once, and rings at the
// station until the resident answers (then it goes on as any call), declines or lets it
// ring out.
//
// window.doorstepCall exposes the state read-only for the browser tests and the bench.
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("call-config").dataset.config);
  const T = config.texts;
  const $ = (id) => document.getElementById(id);
  const fill = (template, fields) =>
    template.replace(/\{(\w+)\}/g, (_, name) => (name in fields ? String(fields[name]) : ""));

  const state = {
    socket: null,
    lastHeard: 0,
    agentState: "offline",
    call: null, // the CallInfo of the current call
    pc: null,
    attempt: -1,
    local: null, // the agent's MediaStream (null: no camera or microphone)
    localAsked: null, // the promise of the agent's MediaStream
    framesShown: 0,
    lastFrameAt: 0,
    mediaReported: "",
    quality: "",
    stats: {},
    chat: [],
    captures: [],
    ended: null,
    supervisor: "", // the call's supervisor line: "", "asked", "joined", "left"
    help: [],
    ringing: false, // this page called the station and nobody answered yet
    backoff: 500,
  };
  const callback = new URLSearchParams(location.search).get("callback");
  let rang = false;
  // The district fills in who said a chat line; a line this page sends is never echoed.
  const me = config.role === "supervisor" ? "supervisor" : "agent";
  window.doorstepCall = {
    get state() { return state.agentState; },
    get call() { return state.call ? state.call.call : null; },
    get pc() { return state.pc; },
    get stats() { return { ...state.stats }; },
    get quality() { return state.quality; },
    get framesShown() { return state.framesShown; },
    get chat() { return state.chat.slice(); },
    get captures() { return state.captures.slice(); },
    get ended() { return state.ended; },
    get connected() { return !!state.socket && state.socket.readyState === WebSocket.OPEN; },
    get watching() { return !!(state.call && state.call.watching); },
    get supervisor() { return state.supervisor; },
    get help() { return state.help.slice(); },
    get ringing() { return state.ringing; },
  };

  const status = (message) => { $("call-status").textContent = message || ""; };
  const send = (message) => {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(message));
    }
  };

  // -- the socket ----------------------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${config.socket}`);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.backoff = 500;
      state.lastHeard = Date.now();
      status("");
    });
    socket.addEventListener("message", (event) => {
      state.lastHeard = Date.now();
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      handle(message);
    });
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      state.socket = null;
      setAgentState("offline");
      if (state.call) endLocally("gone");
      status(T.call_status_offline);
      setTimeout(connect, state.backoff);
      state.backoff = Math.min(state.backoff * 2, 10000);
    });
  }

  setInterval(() => {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - state.lastHeard > config.silent_s * 1000) {
      socket.close(); // the close handler reconnects
      return;
    }
    send({ type: "ping" });
  }, config.ping_s * 1000);

  function handle(message) {
    switch (message.type) {
      case "queue": showQueue(message); break;
      case "call": startCall(message); break;
      case "offer": answer(message).catch((error) => status(fill(T.call_error, { message: error.message }))); break;
      case "capture_arrived": addCapture(message); break;
      case "chat": addChat(message.sender || "resident", message.text); break;
      case "media": if (message.state === "lost") status(T.call_status_reconnecting); break;
      case "supervisor": showSupervisor(message); break;
      case "ended": endLocally(message.reason); break;
      case "error":
        state.ringing = false;
        status(fill(T.call_error, { message: message.message }));
        break;
      default: break; // ping, and anything newer than this page
    }
  }

  // -- presence and the queue ----------------------------------------------------------

  function setAgentState(value) {
    state.agentState = value;
    const element = $("agent-state");
    element.dataset.state = value;
    element.textContent = T[`call_state_${value}`] || value;
  }

  function showQueue(message) {
    setAgentState(message.state);
    if (callback && !rang && message.state !== "offline" && message.state !== "busy") {
      rang = true; // once: a reload of the page does not call the station again
      history.replaceState(null, "", location.pathname);
      state.ringing = true;
      send({ type: "ring", callback });
    }
    const list = $("queue-list");
    list.replaceChildren();
    if (!message.waiting.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = T.call_queue_empty;
      list.append(empty);
    }
    for (const waiting of message.waiting) {
      const row = document.createElement("li");
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = `${waiting.station} · ${waiting.item_title || waiting.category || "—"}`;
      const when = document.createElement("span");
      when.className = "when";
      when.textContent = fill(T.call_waited, { seconds: waiting.waited_s })
        + (waiting.mine ? ` · ${T.call_for_me}` : "");
      const take = document.createElement("button");
      take.type = "button";
      take.textContent = T.call_take;
      take.setAttribute("aria-label", `${T.call_take}: ${what.textContent}`);
      take.addEventListener("click", () => send({ type: "take", call: waiting.call }));
      row.append(what, when, take);
      list.append(row);
    }
    $("take-next").disabled = !message.waiting.length || !!state.call;
    showHelp(message.help || []);
  }

  // A supervisor's list of the calls asking for help.
  function showHelp(calls) {
    state.help = calls.map((asking) => asking.call);
    const list = $("help-list");
    if (!list) return; // not a supervisor's page
    list.replaceChildren();
    if (!calls.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = T.call_help_empty;
      list.append(empty);
    }
    for (const asking of calls) {
      const row = document.createElement("li");
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = `${asking.station} · ${asking.item_title || "—"}`;
      const when = document.createElement("span");
      when.className = "when";
      when.textContent = fill(T.call_help_row, { agent: asking.agent, seconds: asking.asked_s });
      const join = document.createElement("button");
      join.type = "button";
      join.className = "join";
      join.textContent = T.call_join;
      join.setAttribute("aria-label", `${T.call_join}: ${what.textContent}`);
      join.disabled = !!state.call;
      join.addEventListener("click", () => send({ type: "join", call: asking.call }));
      row.append(what, when, join);
      list.append(row);
    }
  }

  function showSupervisor(message) {
    if (!state.call || message.call !== state.call.call) return;
    state.supervisor = message.state;
    const line = {
      asked: T.call_supervisor_asked,
      joined: fill(T.call_supervisor_joined, { name: message.name }),
      left: T.call_supervisor_left,
    }[message.state];
    $("call-supervisor").textContent = line || T.call_supervisor_none;
    $("ask-help").disabled = message.state !== "left";
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-presence]") : null;
    if (!target) return;
    const wanted = target.dataset.presence;
    send({ type: "presence", state: wanted, reason: wanted === "break" ? $("break-reason").value : "" });
  });
  $("take-next").addEventListener("click", () => send({ type: "take", call: null }));

  // -- the call ------------------------------------------------------------------------

  // The agent's camera and microphone, asked for once per page (the first call starts the
  // asking; the answer awaits the same promise, so it never answers without them while
  // the browser is still opening them).
  function localMedia() {
    if (!state.localAsked) state.localAsked = openLocalMedia();
    return state.localAsked;
  }
  async function openLocalMedia() {
    const tries = [{ video: true, audio: true }, { video: true }, { audio: true }];
    for (const constraints of tries) {
      try {
        state.local = await navigator.mediaDevices.getUserMedia(constraints);
        $("local-video").srcObject = state.local;
        return state.local;
      } catch { /* the next, smaller set */ }
    }
    status(T.call_status_no_camera);
    return null;
  }

  function startCall(info) {
    // the same call again: a supervisor who took it over keeps its chat and pictures
    const same = !!state.call && state.call.call === info.call;
    state.call = info;
    state.attempt = -1;
    state.ended = null;
    state.framesShown = 0;
    state.mediaReported = "";
    state.supervisor = "";
    if (!same) {
      state.chat = [];
      state.captures = [];
      $("chat-log").replaceChildren();
      $("materials-list").replaceChildren();
      $("materials-none").hidden = false;
    }
    closePeer();
    $("call").dataset.watching = String(!!info.watching);
    const watching = $("call-watching");
    watching.hidden = !info.watching;
    watching.textContent = info.watching ? fill(T.call_watching, { agent: info.agent || "—" }) : "";
    $("call-supervisor").textContent = T.call_supervisor_none;
    $("ask-help").hidden = !!info.watching;
    $("ask-help").disabled = false;
    $("take-over").hidden = !info.watching;
    $("toggle-mic").hidden = !!info.watching;
    $("toggle-camera").hidden = !!info.watching;
    $("local-video").hidden = !!info.watching;
    disarmEnd();
    for (const join of document.querySelectorAll("#help-list button.join")) join.disabled = true;
    $("call-none").hidden = true;
    $("call-body").hidden = false;
    $("call").dataset.active = "true";
    $("call-station").textContent = info.station;
    $("call-item").textContent = info.item_title || info.item_code || "—";
    $("call-identity").textContent = info.identity || T.call_identity_unknown;
    const application = $("call-application");
    application.replaceChildren();
    if (info.application) {
      const link = document.createElement("a");
      link.href = `${config.console}/applications/${info.application}`;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = T.call_application_open;
      application.append(link);
    } else {
      application.textContent = T.call_application_none;
    }
    $("take-next").disabled = true;
    status(state.ringing ? T.call_status_ringing : T.call_status_connecting);
    if (!info.watching) localMedia(); // ready before the offer comes
  }

  async function answer(offer) {
    if (!state.call || offer.call !== state.call.call || offer.attempt < state.attempt) return;
    state.ringing = false;
    state.attempt = offer.attempt;
    closePeer();
    const pc = new RTCPeerConnection({
      iceServers: state.call.ice_servers.map((server) => ({
        urls: server.urls,
        ...(server.username ? { username: server.username, credential: server.credential } : {}),
      })),
      iceTransportPolicy: state.call.ice_policy,
    });
    state.pc = pc;
    pc.addEventListener("track", (event) => {
      const video = $("remote-video");
      if (!video.srcObject) video.srcObject = new MediaStream();
      video.srcObject.addTrack(event.track);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== state.pc) return;
      if (pc.connectionState === "failed" || pc.connectionState === "disconnected") {
        reportMedia("lost");
      }
    });
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    // a supervisor watching only receives (their leg carries the station's camera)
    const local = offer.leg === "supervisor" ? null : await localMedia();
    if (pc !== state.pc) return;
    const kinds = new Set();
    for (const track of local ? local.getTracks() : []) {
      const transceiver = pc.getTransceivers().find(
        (t) => t.receiver.track.kind === track.kind && !t.sender.track && !kinds.has(track.kind));
      if (transceiver) {
        kinds.add(track.kind);
        await transceiver.sender.replaceTrack(track);
        transceiver.direction = "sendrecv";
      }
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc, 3000);
    if (pc !== state.pc) return;
    send({
      type: "answer", call: offer.call, attempt: offer.attempt, sdp: pc.localDescription.sdp,
      leg: offer.leg || "agent",
    });
  }

  function gathered(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, timeoutMs);
    });
  }

  function reportMedia(value) {
    if (!state.call || state.mediaReported === `${value}:${state.attempt}`) return;
    state.mediaReported = `${value}:${state.attempt}`;
    send({
      type: "media", call: state.call.call, attempt: Math.max(state.attempt, 0), state: value,
      leg: state.call.watching ? "supervisor" : "agent",
    });
    status(value === "connected" ? T.call_status_connected : T.call_status_reconnecting);
  }

  function closePeer() {
    if (state.pc) {
      state.pc.close();
      state.pc = null;
    }
    const video = $("remote-video");
    video.srcObject = null;
  }

  function endLocally(reason) {
    closePeer();
    state.ringing = false;
    state.ended = reason;
    state.call = null;
    state.supervisor = "";
    $("call").dataset.active = "false";
    $("call").dataset.watching = "false";
    for (const join of document.querySelectorAll("#help-list button.join")) join.disabled = false;
    $("call-body").hidden = true;
    $("call-none").hidden = false;
    status(fill(T.call_status_ended, { reason: T[`call_end_${reason}`] || reason }));
  }

  // Ending takes a second press within END_ARM_MS (never window.confirm: a modal dialog
  // stops the page's script, its pings with it, and the district would drop the call).
  const END_ARM_MS = 4000;
  let endArmed = 0;
  const endButton = $("end-call");
  const disarmEnd = () => {
    endArmed = 0;
    endButton.textContent = state.call && state.call.watching ? T.call_leave : T.call_end;
  };
  endButton.addEventListener("click", () => {
    if (!state.call) return;
    if (state.call.watching) { // leaving: the call goes on without this supervisor
      send({ type: "end", call: state.call.call, reason: "agent" });
      endLocally("left");
      return;
    }
    if (Date.now() - endArmed > END_ARM_MS) {
      endArmed = Date.now();
      endButton.textContent = T.call_end_confirm;
      setTimeout(() => { if (Date.now() - endArmed >= END_ARM_MS) disarmEnd(); }, END_ARM_MS);
      return;
    }
    disarmEnd();
    send({ type: "end", call: state.call.call, reason: "agent" });
    endLocally("agent");
  });

  $("ask-help").addEventListener("click", (event) => {
    if (!state.call || state.call.watching) return;
    event.currentTarget.disabled = true;
    send({ type: "help", call: state.call.call });
  });
  $("take-over").addEventListener("click", () => {
    if (state.call && state.call.watching) send({ type: "take_over", call: state.call.call });
  });

  $("toggle-mic").addEventListener("click", (event) => toggle(event.currentTarget, "audio"));
  $("toggle-camera").addEventListener("click", (event) => toggle(event.currentTarget, "video"));
  function toggle(button, kind) {
    const tracks = state.local ? state.local.getTracks().filter((t) => t.kind === kind) : [];
    const off = button.getAttribute("aria-pressed") !== "true";
    for (const track of tracks) track.enabled = !off;
    button.setAttribute("aria-pressed", String(off));
    if (kind === "audio") button.textContent = off ? T.call_unmute : T.call_mute;
    else button.textContent = off ? T.call_camera_on : T.call_camera_off;
  }

  // Frames shown: counted at the moment of display, and the first one says "connected".
  const remoteVideo = $("remote-video");
  function onFrame() {
    state.framesShown += 1;
    state.lastFrameAt = Date.now();
    if (state.call && state.pc) reportMedia("connected");
    remoteVideo.requestVideoFrameCallback(onFrame);
  }
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    remoteVideo.requestVideoFrameCallback(onFrame);
  }

  // -- quality, from getStats() every second -------------------------------------------

  let previous = null;
  const freezes = [];
  setInterval(async () => {
    const pc = state.pc;
    if (!pc || !state.call) { $("call-quality").textContent = T.call_quality_unknown; return; }
    const report = await pc.getStats();
    let rtt = 0, lost = 0, received = 0, fps = 0, freezeCount = 0;
    report.forEach((entry) => {
      if (entry.type === "candidate-pair" && entry.nominated && entry.currentRoundTripTime !== undefined) {
        rtt = entry.currentRoundTripTime * 1000;
      }
      if (entry.type === "inbound-rtp" && entry.kind === "video") {
        lost = entry.packetsLost || 0;
        received = entry.packetsReceived || 0;
        fps = entry.framesPerSecond || 0;
        freezeCount = entry.freezeCount || 0;
      }
    });
    const now = Date.now();
    let loss = 0;
    if (previous) {
      const newLost = lost - previous.lost;
      const newReceived = received - previous.received;
      loss = newLost + newReceived > 0 ? (100 * Math.max(newLost, 0)) / (newLost + newReceived) : 0;
      if (freezeCount > previous.freezeCount) freezes.push(now);
    }
    previous = { lost, received, freezeCount };
    while (freezes.length && now - freezes[0] > 10000) freezes.shift();
    state.stats = { rtt_ms: rtt, loss_pct: loss, fps, freezes: freezes.length, frames_shown: state.framesShown };
    state.quality = qualityOf(rtt, loss, fps, freezes.length);
    $("call-quality").textContent = T[state.quality];
    if (state.lastFrameAt && now - state.lastFrameAt > 3000) reportMedia("lost");
  }, 1000);

  function qualityOf(rtt, loss, fps, freezeCount) {
    for (const [key, maxRtt, maxLoss, minFps, maxFreezes] of config.quality) {
      if (maxRtt === null) return key;
      if (rtt <= maxRtt && loss <= maxLoss && fps >= minFps && freezeCount <= maxFreezes) return key;
    }
    return config.quality[config.quality.length - 1][0];
  }

  // -- captures and materials ----------------------------------------------------------

  let requests = 0;
  const words = $("capture-words");
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-capture]") : null;
    if (!button || !state.call) return;
    const kind = button.dataset.capture;
    requests += 1;
    send({
      type: "capture_request", call: state.call.call, request: `r${Date.now()}-${requests}`,
      kind, words: words.value.trim() || config.words[kind],
    });
    status(T.call_capture_sent);
  });
  document.addEventListener("focusin", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-capture]") : null;
    if (button && !words.value.trim()) words.placeholder = config.words[button.dataset.capture];
  });

  function addCapture(message) {
    if (!state.call || message.call !== state.call.call) return;
    state.captures.push({ request: message.request, kind: message.kind, url: message.url });
    $("materials-none").hidden = true;
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = message.url;
    link.target = "_blank";
    link.rel = "noopener";
    const image = document.createElement("img");
    image.src = message.url;
    image.alt = message.label || T[`call_capture_${message.kind}`] || message.kind;
    const caption = document.createElement("span");
    caption.textContent = `${image.alt} · ${T.call_material_open}`;
    link.append(image, caption);
    item.append(link);
    $("materials-list").append(item);
  }

  // -- chat ----------------------------------------------------------------------------

  function addChat(sender, line, mine = false) {
    state.chat.push({ sender, text: line });
    const item = document.createElement("li");
    item.className = `from-${sender}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = sender === me && mine ? T.call_chat_you : T[`call_chat_${sender}`] || sender;
    const said = document.createElement("span");
    said.textContent = line;
    item.append(who, said);
    $("chat-log").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function say(line) {
    const clean = line.trim().slice(0, 500);
    if (!clean || !state.call) return;
    send({ type: "chat", call: state.call.call, text: clean });
    addChat(me, clean, true);
  }
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    say($("chat-input").value);
    $("chat-input").value = "";
  });
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-canned]") : null;
    if (button) say(button.textContent);
  });

  connect();
})();
