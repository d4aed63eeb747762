/*
 * Frontdesk chat on any page:
 *   <script src="https://your-frontdesk/embed.js" data-product-id="42" async></script>
 * Adds a launcher; the chat window loads in an iframe only when first opened.
 * API: Frontdesk.open(), Frontdesk.close(), Frontdesk.onUnread(function (count) { ... }).
 * Nothing here can break the host page: every step is guarded, and an unreachable chat server
 * only leaves the launcher without a window.
 */
(function () {
  'use strict';
  if (window.Frontdesk && window.Frontdesk.version) return;
  var script = document.currentScript;
  var origin;
  try {
    origin = new URL(script ? script.src : '', location.href).origin;
  } catch (e) {
    return;
  }
  var productId = script && script.getAttribute('data-product-id');
  // The visitor's token lives in this page's own storage: browsers withhold cookies from the
  // chat's frame when it is another site's.
  var tokenKey = 'frontdesk:visitor@' + origin;
  var frame = null;
  var isOpen = false;
  var unread = 0;
  var listeners = [];
  var queued = [];

  var launcher = document.createElement('button');
  var badge = document.createElement('span');

  function style(el, css) {
    for (var key in css) el.style[key] = css[key];
  }

  function notify() {
    for (var i = 0; i < listeners.length; i++) {
      try {
        listeners[i](unread);
      } catch (e) {
        /* a host callback failing must not stop the others */
      }
    }
  }

  function setUnread(count) {
    unread = count;
    badge.textContent = String(count);
    badge.style.display = count > 0 ? 'block' : 'none';
    launcher.setAttribute('aria-label', isOpen ? 'Close chat' : count > 0 ? 'Open chat, ' + count + ' unread' : 'Open chat');
    notify();
  }

  var handed = null; // the token this page's frame was given
  function token(value) {
    try {
      var stored = localStorage.getItem(tokenKey) || '';
      // A visitor made in another tab first stays the one kept.
      if (value && (!stored || stored === handed)) {
        localStorage.setItem(tokenKey, value);
        stored = handed = value;
      }
      return stored;
    } catch (e) {
      return '';
    }
  }

  // The side the shop put the launcher on (Settings → Window), once the server said.
  var side = 'right';

  function placeFrame() {
    if (!frame) return;
    var narrow = window.innerWidth < 640;
    var other = side === 'left' ? 'right' : 'left';
    var place = narrow
      ? { right: '0', left: '0', bottom: '0', width: '100%', height: '100%', borderRadius: '0' }
      : { bottom: '88px', width: '400px', height: 'min(640px, calc(100vh - 110px))', borderRadius: '16px' };
    if (!narrow) { place[side] = '20px'; place[other] = 'auto'; }
    style(frame, place);
  }

  // The shop's welcome beside the launcher until the window is first opened.
  var bubble = null;
  var opened = false;
  function welcome(text) {
    bubble = document.createElement('button');
    bubble.type = 'button';
    bubble.textContent = text;
    bubble.setAttribute('aria-label', 'Open chat: ' + text);
    bubble.setAttribute('data-frontdesk', 'welcome');
    style(bubble, {
      position: 'fixed', bottom: '32px', maxWidth: 'min(260px, calc(100vw - 110px))', padding: '6px 12px',
      borderRadius: '16px', border: '1px solid #e2e8f0', background: '#fff', color: '#1e293b', cursor: 'pointer',
      font: '500 14px/1.4 system-ui, sans-serif', textAlign: 'left', zIndex: '2147483001',
      boxShadow: '0 4px 12px rgba(15, 23, 42, 0.15)'
    });
    bubble.style[side] = '88px';
    bubble.addEventListener('click', open);
    document.body.appendChild(bubble);
  }

  // The launcher in the shop's colour, on its side, and its welcome (the defaults until the
  // server answers).
  function applyLook() {
    try {
      fetch(origin + '/api/v1/window', { credentials: 'omit' }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (look) {
          if (!look) return;
          if (/^#[0-9a-fA-F]{6}$/.test(look.brand_color)) launcher.style.background = look.brand_color;
          if (look.launcher === 'left' || look.launcher === 'right') {
            side = look.launcher;
            launcher.style[side] = '20px';
            launcher.style[side === 'left' ? 'right' : 'left'] = 'auto';
            placeFrame();
          }
          if (typeof look.welcome === 'string' && look.welcome && !opened) welcome(look.welcome);
        })['catch'](function () {});
    } catch (e) {
      /* an old browser keeps the defaults */
    }
  }

  // The visitor's time zone, so staff see their local time ('' when the browser does not say).
  function zone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; }
  }

  function ensureFrame() {
    if (frame) return frame;
    frame = document.createElement('iframe');
    // The page the visitor is on travels with the frame's address, so a conversation begun here
    // knows it (its title cut to what the server keeps).
    frame.src = origin + '/widget?' + (productId ? 'product_id=' + encodeURIComponent(productId) + '&' : '') +
      'page_url=' + encodeURIComponent(location.href.split('#')[0].slice(0, 2048)) +
      '&page_title=' + encodeURIComponent(document.title.slice(0, 200)) + '&tz=' + encodeURIComponent(zone()) +
      '#fd-token=' + encodeURIComponent((handed = token()));
    frame.title = 'Chat with us';
    frame.setAttribute('data-frontdesk', 'frame');
    frame.setAttribute('allow', 'clipboard-write');
    style(frame, {
      position: 'fixed', border: '0', zIndex: '2147483000', background: '#fff', colorScheme: 'normal',
      boxShadow: '0 20px 50px rgba(15, 23, 42, 0.25)', display: 'none'
    });
    placeFrame();
    document.body.appendChild(frame);
    return frame;
  }

  function open() {
    opened = true;
    // Focus moves to the window rather than falling to the page with the bubble gone.
    var hadFocus = !!bubble && document.activeElement === bubble;
    if (bubble) {
      if (bubble.parentNode) bubble.parentNode.removeChild(bubble);
      bubble = null;
    }
    ensureFrame().style.display = 'block';
    if (hadFocus) frame.focus();
    isOpen = true;
    setUnread(0);
  }

  function close() {
    if (frame) frame.style.display = 'none';
    isOpen = false;
    setUnread(unread);
  }

  function mount() {
    launcher.type = 'button';
    launcher.setAttribute('data-frontdesk', 'launcher');
    launcher.innerHTML =
      '<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28" viewBox="0 0 24 24" fill="none" stroke="currentColor" ' +
      'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M7.9 20A9 9 0 1 0 4 16.1L2 22Z"/></svg>';
    style(launcher, {
      position: 'fixed', right: '20px', bottom: '20px', width: '56px', height: '56px', borderRadius: '50%',
      border: '0', background: '#4f46e5', color: '#fff', cursor: 'pointer', zIndex: '2147483001',
      display: 'flex', alignItems: 'center', justifyContent: 'center', boxShadow: '0 10px 25px rgba(15, 23, 42, 0.3)'
    });
    badge.setAttribute('data-frontdesk', 'unread');
    style(badge, {
      position: 'absolute', top: '-4px', right: '-4px', minWidth: '20px', padding: '0 6px', borderRadius: '10px',
      background: '#dc2626', color: '#fff', font: '600 12px/20px system-ui, sans-serif', display: 'none'
    });
    launcher.appendChild(badge);
    launcher.addEventListener('click', function () {
      isOpen ? close() : open();
    });
    document.body.appendChild(launcher);
    applyLook();
    setUnread(0);
    window.addEventListener('resize', placeFrame);
    window.addEventListener('message', function (event) {
      if (event.origin !== origin || !frame || event.source !== frame.contentWindow) return;
      if (!event.data || typeof event.data.type !== 'string') return;
      if (event.data.type === 'frontdesk:close') close();
      if (event.data.type === 'frontdesk:token' && /^[\w-]{1,128}$/.test(event.data.value)) token(event.data.value);
      if (event.data.type === 'frontdesk:reply' && !isOpen) setUnread(unread + (Number(event.data.value) || 1));
    });
    for (var i = 0; i < queued.length; i++) queued[i]();
    queued = [];
  }

  function whenMounted(fn) {
    return function () {
      if (launcher.parentNode) fn();
      else queued.push(fn);
    };
  }

  window.Frontdesk = {
    version: '1',
    open: whenMounted(open),
    close: whenMounted(close),
    onUnread: function (fn) {
      if (typeof fn === 'function') listeners.push(fn);
    }
  };

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
