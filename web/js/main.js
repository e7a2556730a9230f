// The dashboard: a hash router over four pages, the session, and one live
// connection shared by the pages.
//   #/                          fleet
//   #/chargers/ID[?c=N]         charger (SoC monitoring)
//   #/chargers/ID/configure     configure charge
//   #/login                     sign-in;  #login=CODE: the first-start link
import * as session from './session.js';
import { Live } from './live.js';
import * as loginPage from './pages/login.js';
import * as fleetPage from './pages/fleet.js';
import * as chargerPage from './pages/charger.js';
import * as configurePage from './pages/configure.js';

const main = document.getElementById('main');
const connEl = document.getElementById('conn');
const whoEl = document.getElementById('who');
let live = null;
let cleanup = null;
let lastPath = null;

const LABELS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

function showConn() {
  if (!live) { connEl.hidden = true; return; }
  connEl.hidden = false;
  connEl.dataset.state = live.state;
  let text = LABELS[live.state] || live.state;
  if (live.state !== 'live' && live.polling) text += ' · updating every 30 s';
  connEl.querySelector('.conn-text').textContent = text;
}

function startLive() {
  if (live) return;
  live = new Live();
  window.fcLive = live; // for the end-to-end tests and the curious
  live.subscribe((m) => { if (m.kind === 'state' || m.kind === 'poll') showConn(); });
  showConn();
  live.start();
}

function stopLive() {
  if (!live) return;
  live.stop();
  live = null;
  window.fcLive = null;
  showConn();
}

function route() {
  const hash = location.hash || '#/';
  const code = /^#login=([\w-]+)/.exec(hash);
  if (cleanup) { cleanup(); cleanup = null; }
  if (code) {
    loginPage.exchangeCode(main, code[1], { next: () => go('#/') });
    return;
  }
  const s = session.current();
  if (!s) {
    stopLive();
    if (hash !== '#/login') sessionStorage.setItem('fc.after', hash);
    history.replaceState(null, '', '#/login');
    document.title = 'Sign in · flashcharge';
    loginPage.render(main, { next: () => go(sessionStorage.getItem('fc.after') || '#/') });
    return;
  }
  if (hash === '#/login') { go('#/'); return; }
  startLive();
  const [pathPart, q = ''] = hash.slice(1).split('?');
  const query = new URLSearchParams(q);
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  let page = fleetPage, id = null;
  if (parts[0] === 'chargers' && parts[1]) {
    id = parts[1];
    page = parts[2] === 'configure' ? configurePage : chargerPage;
  }
  const title = page === fleetPage ? 'Chargers' : page === chargerPage ? id : `Configure ${id}`;
  document.title = `${title} · flashcharge`;
  const render = () => { cleanup = page.render(main, { live, id, query }) || null; };
  if (!live.loaded) {
    // wait for the first list (or the first poll) before drawing
    main.replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'Loading…' }));
    const off = live.subscribe((m) => {
      if (m.kind === 'list' || m.kind === 'poll') { off(); if (cleanup === waiting) { cleanup = null; render(); } }
    });
    const waiting = () => off();
    cleanup = waiting;
  } else {
    render();
  }
  // move the focus to the new page (screen readers, keyboard), not on redraws
  if (lastPath !== pathPart) main.focus({ preventScroll: true });
  lastPath = pathPart;
}

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function showWho(s) {
  whoEl.hidden = !s;
  if (s) whoEl.querySelector('.who-name').textContent = `${s.sub} (${s.role})`;
}

session.init();
showWho(session.current());
session.onChange((s) => {
  showWho(s);
  if (!s) route(); // signed out (expired, refused, or the button)
});
document.getElementById('signout').addEventListener('click', () => session.signOut());
window.addEventListener('hashchange', route);
route();
