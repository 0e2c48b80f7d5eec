// Gridwarden scanning station. Every scan goes first into a queue in
// IndexedDB (durable), then to the server with its client-generated id, so a
// dead network, a reload or a browser restart loses nothing, and a replay is
// answered by the server instead of applied twice.
(function () {
  'use strict';
  var M = JSON.parse(document.getElementById('gw-msgs').textContent);
  function $(id) { return document.getElementById(id); }
  var CFG = 'gw.station';
  var STATE = 'gw.station.state';

  function cfg() { try { return JSON.parse(localStorage.getItem(CFG) || 'null'); } catch (e) { return null; } }
  function state() {
    var s = null;
    try { s = JSON.parse(localStorage.getItem(STATE) || 'null'); } catch (e) { s = null; }
    return s || { tube: null, fill: 0, pointCount: 0, purpose: 'routine' };
  }
  function saveState(s) { localStorage.setItem(STATE, JSON.stringify(s)); }

  // ----- IndexedDB -----------------------------------------------------------
  var dbp = null;
  function db() {
    if (!dbp) {
      dbp = new Promise(function (resolve, reject) {
        var r = indexedDB.open('gridwarden-station', 1);
        r.onupgradeneeded = function () {
          var d = r.result;
          d.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
          d.createObjectStore('kv');
          d.createObjectStore('problems', { keyPath: 'seq', autoIncrement: true });
        };
        r.onsuccess = function () { resolve(r.result); };
        r.onerror = function () { reject(r.error); };
      });
    }
    return dbp;
  }
  // Runs fn(store) in one transaction; resolves with fn's request result once committed.
  function tx(name, mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = mode === 'readwrite' ? d.transaction(name, mode, { durability: 'strict' }) : d.transaction(name, mode);
        var req = fn(t.objectStore(name));
        var out;
        if (req) req.onsuccess = function () { out = req.result; };
        t.oncomplete = function () { resolve(out); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }
  function qAdd(item) { return tx('queue', 'readwrite', function (s) { return s.add(item); }); }
  function qFirst() { return tx('queue', 'readonly', function (s) { return s.getAll(null, 1); }).then(function (a) { return a[0]; }); }
  function qAll() { return tx('queue', 'readonly', function (s) { return s.getAll(); }); }
  function qDel(seq) { return tx('queue', 'readwrite', function (s) { return s.delete(seq); }); }
  function qPut(item) { return tx('queue', 'readwrite', function (s) { return s.put(item); }); }
  function kvGet(k) { return tx('kv', 'readonly', function (s) { return s.get(k); }); }
  function kvPut(k, v) { return tx('kv', 'readwrite', function (s) { return s.put(v, k); }); }
  function problemAdd(p) { return tx('problems', 'readwrite', function (s) { return s.add(p); }); }
  function problemsAll() { return tx('problems', 'readonly', function (s) { return s.getAll(); }); }
  // Clears what was only said; items the server did not take stay held.
  function problemsClear() {
    return problemsAll().then(function (ps) {
      return Promise.all(ps.filter(function (p) { return !isHeld(p); }).map(function (p) {
        return tx('problems', 'readwrite', function (s) { return s.delete(p.seq); });
      }));
    });
  }
  // A queue item the server refused (other than 401, 408, 429 and 5xx), or one for another
  // point: moved, whole, out of the queue into the problems store, so the
  // next items go on; never deleted until sent again and taken.
  function hold(it, text) {
    var item = Object.assign({}, it);
    delete item.seq;
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(['queue', 'problems'], 'readwrite', { durability: 'strict' });
        t.objectStore('problems').add({ text: text, item: item, held: true });
        t.objectStore('queue').delete(it.seq);
        t.oncomplete = function () { resolve(); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }
  // What a problem line shows of a scanned code, since the device is shared
  // and its problem list stays until cleared: a personal code is a
  // credential (its text is the person at any station), so it is cut to
  // its first and last characters, enough to match it with the person's
  // card: GW1-7-K3F9QW2MZP8X4TNA-1-0-AB12CD34EF56 → GW1-7-K3F9…EF56; a
  // document number typed by hand is shown masked.
  // 王小明 → 王**: the family name only.
  function maskedName(name) {
    var n = String(name);
    return n.charAt(0) + new Array(Math.max(n.length, 2)).join('*');
  }
  function shownCode(code) {
    if (!code) return M.walk_in;
    var c = String(code).replace(/\s+/g, '');
    if (/^GW\d*-/i.test(c)) {
      var parts = c.split('-');
      // version-street-uid-key-generation-signature
      if (parts.length === 6 && parts[2].length > 4 && parts[5].length > 4) return parts[0] + '-' + parts[1] + '-' + parts[2].slice(0, 4) + '…' + parts[5].slice(-4);
      return c.length <= 10 ? c.slice(0, 4) + '…' : c.slice(0, 6) + '…' + c.slice(-4);
    }
    if (c.length <= 7) return '***';
    return c.slice(0, 3) + new Array(c.length - 6).join('*') + c.slice(-4);
  }
  // Any personal code in a text cut short as above (a problem listed by an
  // earlier version of this page kept it whole); one cut already is left.
  function codesCut(text) {
    return String(text).replace(/GW\d*-[0-9A-Za-z-]+(?![0-9A-Za-z-]|…)/gi, shownCode);
  }
  // Held: an item kept whole (an earlier version of this page kept refused
  // scans as `item` without the mark).
  function isHeld(p) { return !!(p.held || p.item); }
  // Held items back into the queue (same client ids: the server applies each once).
  function resendHeld() {
    return problemsAll().then(function (ps) {
      var held = ps.filter(function (p) { return isHeld(p) && p.item; });
      return db().then(function (d) {
        return new Promise(function (resolve, reject) {
          var t = d.transaction(['queue', 'problems'], 'readwrite', { durability: 'strict' });
          held.forEach(function (p) {
            var item = Object.assign({}, p.item);
            delete item.seq; // a new place at the end of the queue
            t.objectStore('queue').add(item);
            t.objectStore('problems').delete(p.seq);
          });
          t.oncomplete = function () { resolve(); };
          t.onerror = function () { reject(t.error); };
          t.onabort = function () { reject(t.error); };
        });
      });
    });
  }

  // ----- server --------------------------------------------------------------
  function api(method, path, body) {
    var c = cfg();
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, 8000);
    var headers = { 'Content-Type': 'application/json' };
    if (c && c.token) headers.Authorization = 'Bearer ' + c.token;
    return fetch(path, { method: method, headers: headers, body: JSON.stringify(body || {}), signal: ctl.signal, credentials: 'omit', cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (t) {
          var j = null;
          try { j = JSON.parse(t); } catch (e) { j = null; }
          return { status: res.status, ok: res.ok, body: j };
        });
      })
      .finally(function () { clearTimeout(timer); });
  }

  function uid() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }

  // ----- feedback ------------------------------------------------------------
  var audio = null;
  function beep(ok) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain();
      o.type = ok ? 'sine' : 'square';
      o.frequency.value = ok ? 1046 : 196;
      g.gain.value = 0.25;
      o.connect(g); g.connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + (ok ? 0.12 : 0.6));
    } catch (e) { /* no sound device */ }
  }
  function say(kind, text, detail) {
    var f = $('feedback');
    f.className = 'feedback ' + kind;
    f.setAttribute('data-kind', kind);
    $('fb-text').textContent = text;
    $('fb-detail').textContent = detail ? codesCut(detail) : '';
  }
  // What the screen said just before, to be said again with the next
  // answer (a take-back done on the way to registering a walk-in).
  var carried = '';
  function show(kind, text, detail) {
    if (carried) { detail = (detail ? detail + ' · ' : '') + carried; carried = ''; }
    // The problems listed before this stretch of keeping scans on the
    // device: the upload that ends it speaks only of those found after.
    if (kind === 'queued' && $('feedback').getAttribute('data-kind') !== 'queued') problemsBefore = lastProblem;
    say(kind, text, detail);
    // A scan kept on the device is shown as such until the server answers again.
    if (kind === 'queued') heard = false;
    if (kind !== 'idle') beep(kind === 'ok' || kind === 'queued');
  }
  // Whether the server has answered since the screen last said a scan was
  // kept on this device.
  var heard = false;
  // The newest problem listed (its seq), and the newest when scans began to
  // be kept on this device.
  var lastProblem = 0, problemsBefore = 0;
  // The amber "kept on this device" banner, once the queue is empty and the
  // server has answered: it says everything went up (or to look at the
  // problems found on the way), without a sound: nothing was scanned.
  function settle(items, ps) {
    if ($('feedback').getAttribute('data-kind') !== 'queued') return;
    if (items.length || !heard || !online) return;
    if (ps.some(function (p) { return p.seq > problemsBefore; })) say('bad', M.uploaded_problems, M.uploaded_detail);
    else say('ok', M.uploaded, M.uploaded_detail);
  }
  // A walk-in's swab whose only flag says the community is to check who it
  // was: nothing for the volunteer to do.
  function walkInOnly(o) {
    return o.problem === M.walk_in_problem && !o.alert && !o.duplicate_of && !o.follow_up;
  }
  // The reader's half of a server's `中文 / English` text (as the pages'
  // reason_in): split at each "/ " after a space or a Chinese character; an
  // English half runs to the next part's first Chinese character.
  function inLang(text) {
    text = String(text || '');
    var at = function (t) {
      for (var i = t.indexOf('/ '); i > 0; i = t.indexOf('/ ', i + 1)) {
        var c = t.charCodeAt(i - 1);
        if (c === 32 || c > 127) return i;
      }
      return -1;
    };
    var i = at(text);
    if (i < 0) return text;
    var zh = text.slice(0, i).trim(), en = [], rest = text.slice(i + 2);
    for (var j = at(rest); j >= 0; j = at(rest)) {
      var both = rest.slice(0, j), k = both.search(/[^\x00-\x7f]/);
      if (k <= 0) return document.documentElement.lang === 'en' ? text.slice(i + 2).trim() : zh;
      en.push(both.slice(0, k).trim().replace(/^[；;]\s*/, ''));
      zh += both.slice(k).trim();
      rest = rest.slice(j + 2);
    }
    en.push(rest.trim().replace(/^[；;]\s*/, ''));
    return document.documentElement.lang === 'en' ? en.join('; ') : zh;
  }
  function outcomeText(o) {
    var parts = [];
    if (o.alert) parts.push(inLang(o.alert));
    if (o.person) parts.push(o.person);
    if (o.duplicate_of) parts.push(M.duplicate + ' (' + M.at_point + ' ' + (o.duplicate_of.point_name || o.duplicate_of.point) + ', ' + new Date(o.duplicate_of.scanned_ms).toLocaleTimeString(document.documentElement.lang, { timeZone: 'Asia/Shanghai' }) + ')');
    if (o.problem) parts.push(inLang(o.problem));
    if (o.follow_up === 'retest') parts.push(M.follow_up_retest);
    if (o.follow_up === 'resample') parts.push(M.follow_up_resample);
    return parts.join('；');
  }

  var online = true;
  function setOnline(v) {
    online = v;
    var n = $('net');
    n.textContent = v ? M.online : M.offline;
    n.className = 'net' + (v ? '' : ' off');
    n.setAttribute('data-online', v ? '1' : '0');
  }

  // ----- screen --------------------------------------------------------------
  // The tube's fill on screen: the server's count as of its last answer
  // (`known`), plus the scans for this tube still waiting in the queue, less
  // the take-backs waiting there. A scan the server refused, held or
  // dropped, so leaves the count; another station's swabs in the same tube
  // come with the next answer.
  // Items answered whose count is in `known` already, until they leave the queue.
  var answered = {};
  function recount(items) {
    var s = state();
    var pending = 0;
    items.forEach(function (i) {
      if (!s.tube || i.barcode !== s.tube || answered[i.seq]) return;
      if (i.kind === 'scan') pending += 1;
      else if (i.kind === 'void') pending -= 1;
    });
    // A state saved by an earlier version of this page: its count held the
    // waiting scans too.
    if (typeof s.known !== 'number') s.known = Math.max(0, (s.fill || 0) - pending);
    s.fill = s.tube ? Math.max(0, s.known + pending) : 0;
    saveState(s);
    return s;
  }
  function refresh() {
    var queue = [];
    return qAll().then(function (items) {
      queue = items;
      var s = recount(items);
      var waiting = items.filter(function (i) { return i.kind === 'scan'; });
      $('waiting').textContent = String(waiting.length);
      $('tube-barcode').textContent = s.tube ? s.tube : '—';
      var c = cfg() || {};
      $('tube-fill').textContent = (s.tube ? s.fill : 0) + '/' + (c.pool_size ? poolSize(s) : 0);
      // Fixed while a tube is being filled; free to choose for the next one.
      var filling = !!s.tube && !needTube();
      // The next tube's: as last chosen (a door-to-door team's next tube is
      // one too), kept across a reload, which would show the page's default.
      $('purpose').value = filling ? purposeOf(s) : (s.next || purposeOf(s));
      $('purpose').disabled = filling;
      $('point-count').textContent = String(s.pointCount + waiting.length);
      $('prompt').textContent = needTube() ? M.scan_tube : M.scan_code;
      $('code').setAttribute('data-mode', needTube() ? 'tube' : 'code');
      return problemsAll();
    }).then(function (ps) {
      var list = $('problem-list');
      list.textContent = '';
      ps.forEach(function (p) {
        var li = document.createElement('li');
        li.textContent = codesCut(p.text);
        if (isHeld(p)) li.className = 'held';
        list.appendChild(li);
      });
      $('problems').hidden = ps.length === 0;
      ps.forEach(function (p) { if (p.seq > lastProblem) lastProblem = p.seq; });
      // The banner that sent the volunteer to the list, once it is emptied.
      if (!ps.length && $('fb-text').textContent === M.uploaded_problems) say('ok', M.uploaded, M.uploaded_detail);
      $('resend-held').hidden = !ps.some(isHeld);
      $('undo').hidden = !state().last;
      settle(queue, ps);
    });
  }
  // A retest tube holds one swab; other tubes the round's pool size.
  function poolSize(s) {
    var c = cfg() || {};
    return s.purpose === 'retest' ? 1 : (c.pool_size || 10);
  }
  function purposeOf(s) { return s.purpose || 'routine'; }
  // No tube, a full one, or one the server says takes no more swabs
  // (closed by hand or by another station, sealed).
  function needTube() {
    var s = state();
    return !s.tube || !!s.closed || s.fill >= poolSize(s);
  }

  // The server's phone rule (gw_domain::phone): a mobile of 11 digits from
  // 13 to 19, or a landline of 10 to 12 digits from 0; separators allowed.
  function phoneOk(p) {
    // Full-width digits as the server reads them (１３８ → 138).
    var t = p.replace(/[０-９]/g, function (d) { return String.fromCharCode(d.charCodeAt(0) - 0xFEE0); });
    if (/\.0$/.test(t)) t = t.slice(0, -2);
    t = t.replace(/[\s\-—–()（）+.]/g, '');
    if (!/^[0-9]+$/.test(t)) return false;
    if (t.length === 13 && t.indexOf('86') === 0) t = t.slice(2);
    if (t.charAt(0) === '1') return t.length === 11 && /^1[3-9]/.test(t);
    return t.charAt(0) === '0' && t.length >= 10 && t.length <= 12;
  }

  // ----- sync: one item at a time, in order, each removed only once the server has it.
  var running = null;
  // Refused (401): nothing is sent until the station is enrolled again.
  var revoked = false;
  function sync() {
    if (revoked) return Promise.resolve();
    if (!running) {
      var run = function () { return syncLoop(); };
      var p = navigator.locks ? navigator.locks.request('gw-station-sync', run) : run();
      running = p.catch(function () { /* retried by the timer */ }).then(function () { running = null; return refresh(); });
    }
    return running;
  }
  var results = {};
  // Scans the server did not take, by client id: the station says so.
  var failed = {};
  // Scans whose outcome the volunteer is looking at right now.
  var awaiting = {};
  function syncLoop() {
    var c = cfg();
    if (!c) return Promise.resolve();
    return qFirst().then(function (it) {
      if (!it) return null;
      // Queued at another point (the device was enrolled elsewhere since):
      // held, never sent to this one.
      if (it.point && String(it.point) !== String(c.point)) {
        return hold(it, M.other_point + ': ' + (it.code ? shownCode(it.code) : (it.barcode || ''))).then(function () {
          if (it.client_id) failed[it.client_id] = M.other_point;
          return syncLoop();
        });
      }
      var req;
      if (it.kind === 'tube') {
        req = api('POST', '/api/v1/points/' + c.point + '/tubes', { barcode: it.barcode, reuse: true, purpose: it.purpose || 'routine' });
      } else {
        req = kvGet('tube:' + it.barcode).then(function (id) {
          if (!id) return { status: 0, missing: true };
          if (it.kind === 'close') return api('POST', '/api/v1/tubes/' + id + '/close', {});
          if (it.kind === 'void') return api('POST', '/api/v1/tubes/' + id + '/voids', { client_id: it.client_id, reason: it.reason });
          // sent_ms: the server sets this clock against its own.
          var body = { client_id: it.client_id, code: it.code, scanned_ms: it.scanned_ms, sent_ms: Date.now(), station: c.station, purpose: it.purpose || 'routine' };
          if (it.walk_in) body.walk_in = it.walk_in;
          // Marked before it leaves: the server may store it even if no
          // answer comes back, so it can no longer be undone on this device alone.
          var marked = it.sent ? Promise.resolve() : (it.sent = true, qPut(it));
          return marked.then(function () { return api('POST', '/api/v1/tubes/' + id + '/scans', body); });
        });
      }
      return req.then(function (r) {
        setOnline(true);
        heard = true;
        return handle(it, r).then(function (go) { return go ? syncLoop() : null; });
      }, function () { setOnline(false); return null; });
    });
  }
  // Whether to carry on with the next item.
  function handle(it, r) {
    // A close of a tube whose open is held: held too, to follow it in order.
    if (r.missing && it.kind === 'close') return hold(it, M.stuck + ': ' + it.barcode).then(function () { return true; });
    // A take-back in a tube the server never opened: its scan never left either.
    if (r.missing && it.kind === 'void') return qDel(it.seq).then(function () { return true; });
    if (r.missing) {
      // The tube was never opened (its open is held): the scan is held too.
      if (it.client_id) failed[it.client_id] = M.stuck;
      return hold(it, M.stuck + ': ' + it.barcode + ' ' + (it.code ? shownCode(it.code) : '')).then(function () { return true; });
    }
    if (r.status === 401) { revoked = true; show('bad', M.revoked); $('enroll').hidden = false; return Promise.resolve(false); }
    // The server or the way to it could not take it now (a body cut off on a
    // flaky network, 408; too many requests, 429; a gateway or the server,
    // 5xx): kept in the queue and sent again, not held as refused.
    if (r.status >= 500 || r.status === 408 || r.status === 429) { setOnline(false); return Promise.resolve(false); }
    var msg = r.body && r.body.message ? inLang(r.body.message) : String(r.status);
    if (it.kind === 'tube') {
      if (r.ok) {
        // Opened, perhaps with a warning (not issued to this point, or opened offline after sampling closed).
        // The tube showed green when it was scanned (opening is offline-first):
        // a warning turns the screen red now, so the volunteer sees it at once.
        var st = state();
        if (st.tube === it.barcode) {
          // Opened before (this station enrolled again, or the tube scanned
          // again): the swabs already in it count, and one past open takes no more.
          st.known = r.body.fill || 0;
          if (r.body.state && r.body.state !== 'open') st.closed = true;
          saveState(st);
          if (r.body.reused && r.body.state === 'open' && r.body.fill > 0 && !r.body.warning) {
            show('ok', M.tube_continued, it.barcode + ' · ' + M.tube + ' ' + r.body.fill + '/' + poolSize(st));
          }
        }
        if (r.body.warning) show('bad', M.tube_warning, it.barcode + ' — ' + r.body.warning);
        var warned = r.body.warning ? problemAdd({ text: it.barcode + ' — ' + r.body.warning }) : Promise.resolve();
        return warned.then(function () { return kvPut('tube:' + it.barcode, r.body.id); }).then(function () { return qDel(it.seq); }).then(function () { return true; });
      }
      return hold(it, M.stuck + ' (' + it.barcode + '): ' + msg).then(function () { return true; });
    }
    if (it.kind === 'close') return qDel(it.seq).then(function () { return true; });
    if (it.kind === 'void') {
      // Answered either way: taken back, or refused with the reason (a
      // sealed tube: the swab stays, the volunteer must tell the manager).
      undone[it.client_id] = { ok: r.ok, message: msg };
      var after = Promise.resolve();
      if (r.ok) {
        var sv = state();
        sv.pointCount = r.body.point_count;
        if (sv.tube === it.barcode) {
          sv.known = r.body.tube_fill;
          if (r.body.reopened) delete sv.closed;
          answered[it.seq] = true;
        }
        saveState(sv);
      } else {
        after = problemAdd({ text: M.undo_failed + ': ' + msg });
      }
      return after.then(function () { return qDel(it.seq); }).then(function () { delete answered[it.seq]; return true; });
    }
    if (!r.ok && r.body && r.body.code === 'voided') {
      // Taken back while its answer was lost: nothing to send any more.
      failed[it.client_id] = M.undone;
      return problemAdd({ text: shownCode(it.code) + ' — ' + M.undone }).then(function () { return qDel(it.seq); }).then(function () { return true; });
    }
    if (!r.ok && r.body && r.body.code === 'rescan') {
      // Live, what was read names no person (a tube's or bag's label, a
      // blank or garbled read): nothing was stored, and kept to send later
      // it would be stored as a swab of nobody. Dropped; the person's code
      // is to be read again.
      failed[it.client_id] = { title: it.walk_in ? M.rescan_walk_in : M.rescan, text: msg };
      var sr = state();
      if (sr.last && sr.last.client_id === it.client_id) { delete sr.last; saveState(sr); }
      var told = awaiting[it.client_id] ? Promise.resolve() : problemAdd({ text: shownCode(it.code) + ' — ' + M.rescan_later + ': ' + msg });
      return told.then(function () { return qDel(it.seq); }).then(function () { return true; });
    }
    if (!r.ok) {
      // Refused (e.g. the station no longer covers the point): held, whole,
      // to be sent again once sorted out; the next items go on.
      failed[it.client_id] = msg;
      return hold(it, shownCode(it.code) + ': ' + msg + ' — ' + M.held).then(function () { return true; });
    }
    var o = r.body;
    results[it.client_id] = o;
    var s = state();
    s.pointCount = o.point_count;
    // The server's count (the scans still queued are added by recount).
    if (s.tube === it.barcode) {
      s.known = o.tube_fill;
      if (o.tube_closed) s.closed = true;
      answered[it.seq] = true;
    }
    if (s.last && s.last.client_id === it.client_id) s.last.registration = o.registration;
    saveState(s);
    var bad = o.alert || o.duplicate_of || (o.problem && !walkInOnly(o)) || o.follow_up;
    var p = Promise.resolve();
    if (bad && !awaiting[it.client_id]) {
      // Found at upload, not shown at the scan: the station must see it.
      p = problemAdd({ text: shownCode(it.code) + ' — ' + outcomeText(o), client_id: it.client_id });
    }
    return p.then(function () { return qDel(it.seq); }).then(function () { delete answered[it.seq]; return true; });
  }

  // The street's tube barcode rule (from enrolment; 8 to 20 letters or digits
  // before stations were told): checked here so a misread tube is caught offline too.
  function luhnOk(d) {
    var sum = 0;
    for (var i = 0; i < d.length; i++) {
      var x = d.charCodeAt(d.length - 1 - i) - 48;
      if (i % 2 === 1) { x *= 2; if (x > 9) x -= 9; }
      sum += x;
    }
    return sum % 10 === 0;
  }
  function tubeOk(b) {
    var c = cfg() || {};
    var min = c.tube_min_len || 8, max = c.tube_max_len || 20;
    if (b.length < min || b.length > max || !/^[A-Z0-9]+$/.test(b)) return false;
    return c.tube_check !== 'luhn' || (/^[0-9]+$/.test(b) && luhnOk(b));
  }
  // A personal code (GW1-…) or a mainland ID number with a right check
  // character: never a tube barcode, whatever the street's tube rule.
  // The ID number needs its check character and a birth date that can be
  // (digits 7–14), so an 18-digit tube barcode is almost never taken for one.
  function looksLikePerson(b) {
    if (/^GW\d+-/.test(b)) return true;
    if (!/^[1-9]\d{16}[\dX]$/.test(b)) return false;
    var y = +b.slice(6, 10), m = +b.slice(10, 12), d = +b.slice(12, 14);
    if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31) return false;
    var w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], sum = 0;
    for (var i = 0; i < 17; i++) sum += (b.charCodeAt(i) - 48) * w[i];
    return '10X98765432'.charAt(sum % 11) === b.charAt(17);
  }

  // ----- scanning ------------------------------------------------------------
  var chain = Promise.resolve();
  function onScan(text, walkIn) {
    chain = chain.then(function () { return scan(text, walkIn); }).catch(function (e) { show('bad', String(e)); });
    return chain;
  }
  // walkIn: {name, phone} of someone on no roster (text is then their name, for the screen).
  function scan(text, walkIn) {
    disarm();
    var s = state();
    if (walkIn && needTube()) { show('bad', M.scan_tube, text); return refresh(); }
    var point = cfg().point;
    if (needTube()) {
      var b = text.toUpperCase().replace(/\s+/g, '');
      if (looksLikePerson(b)) { show('bad', s.tube ? M.person_not_tube : M.person_no_tube, text); return refresh(); }
      if (!tubeOk(b)) { show('bad', M.bad_tube, text); return refresh(); }
      if (s.tube) qAdd({ kind: 'close', barcode: s.tube, point: point });
      s.tube = b; s.fill = 0; s.known = 0; s.purpose = $('purpose').value || 'routine';
      delete s.closed;
      // A scan in the tube before is not taken back from this one.
      delete s.last;
      saveState(s);
      return qAdd({ kind: 'tube', barcode: b, purpose: s.purpose, point: point }).then(function () {
        show('ok', M.tube_open, b);
        return refresh();
      }).then(function () { sync(); });
    }
    if (!walkIn && text.toUpperCase().replace(/\s+/g, '') === s.tube) { show('bad', M.same_tube, text); return refresh(); }
    var cid = (cfg().station || 'st') + '-' + uid();
    var item = { kind: 'scan', client_id: cid, barcode: s.tube, code: walkIn ? '' : text, scanned_ms: Date.now(), purpose: purposeOf(s), point: point };
    if (walkIn) item.walk_in = walkIn;
    return qAdd(item).then(function () {
      // Read again: a sync that ended meanwhile may have saved a newer count.
      // The fill counts it from the queue (recount).
      var now = state();
      // The one scan the volunteer can take back (see undoLast).
      // Kept on the device until the next scan: a walk-in's name masked
      // (the queue holds it whole only until it is sent).
      now.last = { client_id: cid, barcode: s.tube, shown: walkIn ? maskedName(text) : shownCode(text) };
      saveState(now);
      return refresh();
    }).then(function () {
      if (revoked) { show('bad', M.revoked, text); return null; }
      if (!online) { show('queued', M.queued, text); sync(); return null; }
      awaiting[cid] = true;
      return sync().then(function () {
        var o = results[cid];
        delete awaiting[cid];
        if (!o && failed[cid]) {
          var why = failed[cid];
          delete failed[cid];
          if (typeof why === 'object') show('bad', why.title, text + ' — ' + why.text);
          else show('bad', M.held, text + ' — ' + why);
          return;
        }
        if (!o && revoked) { show('bad', M.revoked, text); return; }
        if (!o) { show('queued', M.queued, text); return; }
        delete results[cid];
        var detail = outcomeText(o);
        if (o.alert) show('bad', M.retest_due, detail);
        else if (o.tube_closed) show('bad', M.tube_closed, detail);
        else if (o.retype) show('bad', M.retype, detail);
        else if (o.unregistered) {
          // Remembered with the scan the volunteer can take back: a walk-in
          // registered next takes it back first (see the walk-in form).
          var l = state();
          if (l.last && l.last.client_id === cid) { l.last.unregistered = true; saveState(l); }
          show('bad', M.unregistered, detail);
        }
        else if (walkInOnly(o)) show('ok', M.walk_in_ok, M.walk_in_later + ' · ' + M.tube + ' ' + o.tube_fill + '/' + (o.pool_size || poolSize(state())));
        else if (o.duplicate_of || o.problem || o.follow_up) show('bad', o.duplicate_of ? M.duplicate : M.problem, detail);
        else show('ok', M.ok, (o.person ? o.person : o.resident ? M.resident + ' ' + o.resident : '') + ' · ' + M.tube + ' ' + o.tube_fill + '/' + (o.pool_size || poolSize(state())));
        if (needTube()) $('prompt').textContent = state().closed ? M.scan_tube : M.tube_full;
      });
    });
  }

  // Takes back the last scan (a wrong code, or a person scanned and not
  // swabbed). Never sent: it just leaves the queue. Sent (stored, or perhaps
  // stored with its answer lost): a "take back" by its client id is queued
  // after it, sent in order like any scan (offline too), and the server
  // takes the scan back, or refuses it if it ever arrives. Done under the
  // sync lock, so the scan is not being sent at that moment.
  var undone = {};
  // title: what the screen says once taken back (the Undo button's words if none).
  function undoLast(cid, title) {
    var said = title || M.undone;
    var run = function () {
      var last = state().last;
      // Only the scan the volunteer confirmed: another came in meanwhile.
      if (!last || last.client_id !== cid) return null;
      return qAll().then(function (items) {
        var queued = items.filter(function (i) { return i.client_id === cid && i.kind === 'scan'; })[0];
        // The fill follows from the queue (recount).
        var now = state();
        delete now.last;
        saveState(now);
        if (queued && !queued.sent) {
          return qDel(queued.seq).then(function () { return 'local'; });
        }
        var drop = queued ? qDel(queued.seq) : Promise.resolve();
        return drop.then(function () {
          return qAdd({ kind: 'void', client_id: cid, barcode: last.barcode, point: cfg().point, reason: M.undo_reason });
        }).then(function () { return 'queued'; });
      }).then(function (how) { return { how: how, last: last }; });
    };
    var p = navigator.locks ? navigator.locks.request('gw-station-sync', run) : run();
    return Promise.resolve(p).then(function (done) {
      if (!done) return refresh();
      var shown = done.last.shown;
      if (done.how === 'local') { show('ok', said, shown + ' — ' + M.undone_local); return refresh(); }
      if (!online) { show('queued', said, shown + ' — ' + M.undo_queued); return refresh(); }
      return refresh().then(sync).then(function () {
        var o = undone[cid];
        delete undone[cid];
        if (o && o.ok) show('ok', said, shown + ' — ' + o.message);
        else if (o) show('bad', M.undo_failed, shown + ' — ' + o.message);
        else show('queued', said, shown + ' — ' + M.undo_queued);
      });
    });
  }

  var armed = null;
  function disarm() {
    if (armed) clearTimeout(armed.timer);
    armed = null;
    var b = $('undo');
    if (b) { b.textContent = M.undo; b.classList.remove('danger'); }
  }

  var started = false;
  function startScanning() {
    var c = cfg();
    if (started) { $('enroll').hidden = true; refresh().then(sync); return; }
    started = true;
    $('enroll').hidden = true;
    $('scan').hidden = false;
    $('point-name').textContent = c.point_name || c.point;
    $('round-name').textContent = c.round_name || c.round;
    setOnline(navigator.onLine !== false);
    var input = $('code');
    $('scan-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var v = input.value.trim();
      input.value = '';
      input.focus();
      if (v) onScan(v);
    });
    $('purpose').addEventListener('change', function () {
      var s = state();
      s.next = $('purpose').value;
      saveState(s);
    });
    $('new-tube').addEventListener('click', function () {
      var s = state();
      if (s.tube) qAdd({ kind: 'close', barcode: s.tube, point: cfg().point });
      s.tube = null; s.fill = 0; s.known = 0;
      delete s.closed;
      delete s.last;
      saveState(s);
      refresh();
      input.focus();
    });
    if ('BarcodeDetector' in window && navigator.mediaDevices) {
      $('camera-button').hidden = false;
      $('camera-button').addEventListener('click', function () { startCamera(); input.focus(); });
    }
    $('walk-in-button').addEventListener('click', function () {
      var f = $('walk-in');
      f.hidden = !f.hidden;
      if (!f.hidden) $('walk-in-name').focus();
    });
    $('walk-in').addEventListener('submit', function (e) {
      e.preventDefault();
      var name = $('walk-in-name').value.trim(), phone = $('walk-in-phone').value.trim();
      if (!name) { $('walk-in-name').focus(); return; }
      if (phone && !phoneOk(phone)) { show('bad', M.walk_in_phone, phone); $('walk-in-phone').focus(); return; }
      $('walk-in-name').value = ''; $('walk-in-phone').value = '';
      $('walk-in').hidden = true;
      input.focus();
      // The scan before was an ID number nobody in the street has, not taken
      // back yet: that swab is this walk-in's, so it is taken back first
      // (as the Undo button does), or the tube would hold one person twice.
      var last = state().last;
      if (last && last.unregistered) {
        disarm();
        var cid = last.client_id;
        chain = chain.then(function () { return undoLast(cid, M.undone_unregistered); }).then(function () {
          carried = $('fb-text').textContent + '：' + $('fb-detail').textContent.split(' — ')[0];
        }).catch(function (e) { show('bad', String(e)); });
      }
      onScan(name, { name: name, phone: phone });
    });
    // Two presses: the first asks about the last scan, the second (within
    // 5 s, with no scan in between) takes that scan back.
    $('undo').addEventListener('click', function () {
      var b = $('undo');
      var last = state().last;
      if (!armed || !last || last.client_id !== armed.cid) {
        disarm();
        if (!last) return;
        b.textContent = M.undo_confirm + ' ' + last.shown;
        b.classList.add('danger');
        armed = { cid: last.client_id, timer: setTimeout(disarm, 5000) };
        return;
      }
      var cid = armed.cid;
      disarm();
      chain = chain.then(function () { return undoLast(cid); }).catch(function (e) { show('bad', String(e)); });
      input.focus();
    });
    $('clear-problems').addEventListener('click', function () { problemsClear().then(refresh); input.focus(); });
    $('resend-held').addEventListener('click', function () { resendHeld().then(refresh).then(sync); input.focus(); });
    document.addEventListener('keydown', function (e) {
      // A scanner types into whatever has focus: bring it back to the input.
      if (document.activeElement !== input && e.key.length === 1 && !e.ctrlKey && !e.altKey && !e.metaKey &&
          !(document.activeElement && document.activeElement.tagName === 'INPUT')) {
        input.focus();
      }
    });
    window.addEventListener('online', function () { sync(); });
    setInterval(function () { sync(); }, 3000);
    input.focus();
    refresh().then(sync);
  }

  // The phone's camera, where the browser has a barcode detector; typed entry otherwise.
  var camera = null;
  function startCamera() {
    if (camera) { stopCamera(); return; }
    var video = $('camera');
    var detector = new window.BarcodeDetector();
    var last = '', lastAt = 0;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false }).then(function (stream) {
      camera = { stream: stream, timer: 0 };
      video.srcObject = stream;
      video.hidden = false;
      return video.play();
    }).then(function () {
      camera.timer = setInterval(function () {
        detector.detect(video).then(function (codes) {
          if (!codes.length) return;
          var v = codes[0].rawValue, now = Date.now();
          if (v === last && now - lastAt < 3000) return; // the same code still in view
          last = v; lastAt = now;
          onScan(v);
        }).catch(function () { /* next frame */ });
      }, 250);
    }).catch(function (e) { show('bad', String(e && e.message || e)); stopCamera(); });
  }
  function stopCamera() {
    if (!camera) return;
    clearInterval(camera.timer);
    camera.stream.getTracks().forEach(function (t) { t.stop(); });
    camera = null;
    $('camera').hidden = true;
  }

  function enroll(code) {
    var msg = $('enroll-msg');
    msg.textContent = '';
    return api('POST', '/api/v1/enroll', { code: code.trim() }).then(function (r) {
      if (!r.ok) { msg.textContent = M.enroll_failed; return; }
      var before = cfg();
      localStorage.setItem(CFG, JSON.stringify(r.body));
      revoked = false;
      var s = state();
      // Enrolled again at the same point: the tube in hand is still this
      // point's, and is filled on. Elsewhere: a tube of that point first.
      var samePoint = !!before && String(before.point) === String(r.body.point);
      if (s.tube && !samePoint) { s.tube = null; s.fill = 0; s.known = 0; delete s.closed; delete s.last; }
      // The point's count as the server has it now (the swabs of its other
      // stations, or of this one before a re-enrolment); an older server
      // that does not say: another point's count is not this one's.
      if (typeof r.body.point_count === 'number') s.pointCount = r.body.point_count;
      else if (!samePoint) s.pointCount = 0;
      saveState(s);
      startScanning();
      show('ok', M.enrolled);
    }, function () { msg.textContent = M.network; });
  }

  function main() {
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/sw.js', { scope: '/station' }).catch(function () { /* still works online */ });
    }
    var params = new URLSearchParams(location.search);
    var code = params.get('code');
    if (code) {
      // The one-time code leaves the address bar (and history) at once.
      history.replaceState(null, '', '/station');
      enroll(code);
      $('enroll').hidden = false;
      return;
    }
    if (cfg()) { startScanning(); return; }
    $('enroll').hidden = false;
    $('enroll-code').focus();
  }
  $('enroll-form').addEventListener('submit', function (e) {
    e.preventDefault();
    enroll($('enroll-code').value);
  });
  main();
})();
