// Dev Phone: text the bot as a simulated phone and watch its answers live.
// Message text is only ever put into the page as text nodes (never as
// HTML); links are built as <a> elements with textContent.
'use strict';

(() => {
  const E164 = /^\+[1-9]\d{6,14}$/;
  const KEY_PHONES = 'devphone.phones';
  const KEY_CURRENT = 'devphone.current';
  const KEY_WHATSAPP = 'devphone.whatsapp'; // the phones that write as WhatsApp users
  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
  const TRAILING = /[.,;:!?)\]}'"]+$/;

  const $ = (id) => document.getElementById(id);
  const els = {
    select: $('phone-select'),
    whatsapp: $('whatsapp'),
    channelName: $('channel-name'),
    newPhone: $('new-phone'),
    numberForm: $('number-form'),
    number: $('number'),
    notice: $('notice'),
    optout: $('optout'),
    chat: $('chat'),
    empty: $('empty'),
    compose: $('compose'),
    body: $('body'),
    send: $('send'),
  };
  const botNumber = document.body.dataset.botNumber || '';
  // The page is served at <mount>/, so relative URLs find the API.
  const base = new URL('.', document.baseURI);

  let phones = loadPhones();
  let whatsapp = new Set(loadList(KEY_WHATSAPP));
  let current = null;
  let entries = new Map(); // id → entry, for the current phone
  let firstSeen = new Map(); // id → arrival order, to break time ties
  let arrivals = 0;
  let source = null;
  let noticeKind = null;

  function apiURL(path, params) {
    const u = new URL(path, base);
    for (const [k, v] of Object.entries(params || {})) u.searchParams.set(k, v);
    return u;
  }

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch { return null; }
  }

  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch { /* private mode: not remembered */ }
  }

  function loadList(key) {
    try {
      const list = JSON.parse(storageGet(key) || '[]');
      return Array.isArray(list) ? list.filter((p) => typeof p === 'string' && E164.test(p)) : [];
    } catch {
      return [];
    }
  }

  function loadPhones() {
    return loadList(KEY_PHONES);
  }

  // showChannel dresses the page for the current phone's channel.
  function showChannel() {
    const wa = whatsapp.has(current);
    els.whatsapp.checked = wa;
    document.body.classList.toggle('wa', wa);
    els.channelName.textContent = wa ? 'Writing on WhatsApp to' : 'Texting';
    els.body.placeholder = wa ? 'WhatsApp message' : 'Text message';
  }

  function savePhones() {
    storageSet(KEY_PHONES, JSON.stringify(phones));
  }

  // A random number in the fictional +1 555 555-01xx range.
  function randomPhone() {
    for (let i = 0; i < 200; i++) {
      const n = String(Math.floor(Math.random() * 100)).padStart(2, '0');
      const p = '+155555501' + n;
      if (!phones.includes(p) && p !== botNumber) return p;
    }
    return '+15555550199';
  }

  function normalize(raw) {
    const s = raw.trim().replace(/[\s().-]/g, '');
    return /^\d{10}$/.test(s) ? '+1' + s : s;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showNotice(text, kind) {
    els.notice.textContent = text;
    els.notice.classList.toggle('info', kind === 'info');
    els.notice.hidden = false;
    noticeKind = kind || 'error';
  }

  function hideNotice(kind) {
    if (kind && kind !== noticeKind) return;
    els.notice.hidden = true;
    els.notice.textContent = '';
    noticeKind = null;
  }

  function renderSelect() {
    const options = phones.map((p) => {
      const o = el('option', null, p);
      o.value = p;
      o.selected = p === current;
      return o;
    });
    els.select.replaceChildren(...options);
    els.number.value = current || '';
    els.number.removeAttribute('aria-invalid');
  }

  function use(phone) {
    if (!phones.includes(phone)) {
      phones.push(phone);
      savePhones();
    }
    storageSet(KEY_CURRENT, phone);
    const changed = phone !== current;
    current = phone;
    renderSelect();
    showChannel();
    if (changed) connect();
  }

  function connect() {
    if (source) source.close();
    entries = new Map();
    firstSeen = new Map();
    els.optout.hidden = true;
    hideNotice();
    render(true);
    const es = new EventSource(apiURL('api/events', { phone: current }));
    source = es;
    es.addEventListener('state', (ev) => {
      if (es !== source) return;
      els.optout.hidden = !JSON.parse(ev.data).opted_out;
    });
    es.addEventListener('entry', (ev) => {
      if (es !== source) return;
      upsert(JSON.parse(ev.data));
      render(false);
    });
    es.addEventListener('open', () => {
      if (es === source) hideNotice('connection');
    });
    es.addEventListener('error', () => {
      if (es === source) showNotice('Lost the connection to the server; reconnecting…', 'connection');
    });
  }

  function upsert(e) {
    if (!e || e.phone !== current) return;
    if (!firstSeen.has(e.id)) firstSeen.set(e.id, arrivals++);
    entries.set(e.id, e);
  }

  function millis(t) {
    // Go sends nanoseconds; Date.parse wants at most milliseconds.
    return Date.parse(String(t).replace(/(\.\d{3})\d+/, '$1'));
  }

  function render(toBottom) {
    const list = [...entries.values()].sort(
      (a, b) => (millis(a.time) - millis(b.time)) || (firstSeen.get(a.id) - firstSeen.get(b.id)));
    const chat = els.chat;
    const nearBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
    els.empty.hidden = list.length > 0;
    chat.replaceChildren(els.empty, ...list.map(bubble));
    if (toBottom || nearBottom) chat.scrollTop = chat.scrollHeight;
  }

  const LABELS = { reply: 'Bot', rest: 'Bot · REST API', twilio: 'Twilio' };

  function bubble(e) {
    const mine = e.direction === 'in';
    const wa = e.channel === 'whatsapp';
    const wrap = el('div', 'msg ' + (mine ? 'in' : 'out'));
    if (e.source === 'twilio') wrap.classList.add('twilio');
    if (wa) wrap.classList.add('wa');
    if (e.status === 'failed' || e.status === 'undelivered') wrap.classList.add('failed');
    if (!mine) {
      let label = LABELS[e.source] || 'Bot';
      if (wa) label = 'WhatsApp · ' + label + (e.template ? ' · template' : '');
      wrap.append(el('div', 'tag', label));
    } else if (wa) {
      wrap.append(el('div', 'tag', 'WhatsApp'));
    }

    const b = el('div', 'bubble');
    linkify(e.body || '', b);
    wrap.append(b);

    const meta = el('div', 'meta');
    const when = new Date(millis(e.time));
    if (!Number.isNaN(when.getTime())) {
      const t = el('time', null, when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }));
      t.dateTime = when.toISOString();
      meta.append(t);
    }
    const status = statusText(e);
    if (status) meta.append(el('span', 'status', status));
    if (e.error || e.error_code) {
      const code = e.error_code ? 'Error ' + e.error_code : 'Error';
      meta.append(el('span', 'error', e.error ? code + ': ' + e.error : code));
    }
    wrap.append(meta);
    return wrap;
  }

  function statusText(e) {
    if (e.direction === 'in') return e.error ? 'Not handled by the bot' : 'Sent';
    if (!e.status) return '';
    return e.status.charAt(0).toUpperCase() + e.status.slice(1);
  }

  // linkify appends text to parent, with http(s) links as <a> elements.
  function linkify(text, parent) {
    let last = 0;
    for (const m of text.matchAll(URL_RE)) {
      let url = m[0];
      const trail = url.match(TRAILING);
      if (trail) url = url.slice(0, url.length - trail[0].length);
      if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
      parent.append(link(url) || document.createTextNode(url));
      last = m.index + url.length;
    }
    if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  }

  function link(raw) {
    let u;
    try {
      u = new URL(raw);
    } catch {
      return null;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    const a = el('a', null, raw);
    a.href = u.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  function autosize() {
    els.body.style.height = 'auto';
    els.body.style.height = Math.min(els.body.scrollHeight + 2, 144) + 'px';
  }

  async function send() {
    const body = els.body.value;
    if (!body.trim() || !current) return;
    const from = current;
    const wa = whatsapp.has(from);
    els.send.disabled = true;
    try {
      const resp = await fetch(apiURL('api/send'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ from, body, whatsapp: wa }),
        credentials: 'same-origin',
      });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        showNotice(data.error || 'Sending failed (' + resp.status + ')');
        return;
      }
      els.body.value = '';
      autosize();
      if (from === current) {
        upsert(data.message);
        for (const r of data.replies || []) upsert(r);
        els.optout.hidden = !data.opted_out;
        render(true);
      }
      if (data.warning) showNotice(data.warning, 'info');
      else hideNotice();
    } catch (err) {
      showNotice('Could not reach the server: ' + err.message);
    } finally {
      els.send.disabled = false;
      els.body.focus();
    }
  }

  els.compose.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  els.body.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
  });
  els.body.addEventListener('input', autosize);
  els.select.addEventListener('change', () => use(els.select.value));
  els.whatsapp.addEventListener('change', () => {
    if (!current) return;
    if (els.whatsapp.checked) whatsapp.add(current);
    else whatsapp.delete(current);
    storageSet(KEY_WHATSAPP, JSON.stringify([...whatsapp]));
    showChannel();
    els.body.focus();
  });
  els.newPhone.addEventListener('click', () => {
    use(randomPhone());
    els.body.focus();
  });
  els.numberForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const phone = normalize(els.number.value);
    if (!E164.test(phone)) {
      els.number.setAttribute('aria-invalid', 'true');
      showNotice('Enter a number in E.164 form, such as +15555550123.');
      return;
    }
    if (phone === botNumber) {
      els.number.setAttribute('aria-invalid', 'true');
      showNotice("That is the bot's own number.");
      return;
    }
    hideNotice();
    use(phone);
  });

  const saved = storageGet(KEY_CURRENT);
  use(saved && E164.test(saved) ? saved : phones[0] || randomPhone());
})();
