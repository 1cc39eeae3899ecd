/* The extensions catalog of slicer-ext-manager's package server: a plain script (no build step).
 *
 * Routes: /catalog[/<category>[/<revision>/<os>[/<arch>]]] and /view/<Name>/<revision>/<os>[/<arch>].
 * Inside Slicer's "Install extensions" tab it uses window.extensions_manager_model (QWebChannel,
 * set by Slicer after the page starts, or connected here when only qt.webChannelTransport exists);
 * Slicer drives the page through window.app.search / setExtensionButtonState / createNotice.
 */
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('catalog-config').textContent);
  var BRIDGE_WAIT_MS = 2000;
  var state = { route: parseRoute(location.pathname), query: '', items: [], category: 'All', bridge: null,
                buttons: {}, loadSeq: 0 };

  function parseRoute(pathname) {
    var parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'view') {
      return { kind: 'view', name: parts[1], revision: parts[2], os: parts[3], arch: parts[4] || '' };
    }
    if (parts.length >= 4) {
      return { kind: 'catalog', category: parts[1], revision: parts[2], os: parts[3], arch: parts[4] || '' };
    }
    return { kind: 'chooser', category: parts[1] || 'All' };
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') { node.textContent = attrs[key]; } else if (key === 'class') { node.className = attrs[key]; }
      else if (key.slice(0, 2) === 'on') { node.addEventListener(key.slice(2), attrs[key]); }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function api(path, params) {
    var query = Object.keys(params).filter(function (k) { return params[k] !== '' && params[k] !== undefined; })
      .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]); }).join('&');
    return fetch(config.apiRoot + path + (query ? '?' + query : '')).then(function (response) {
      if (!response.ok) { throw new Error('The server answered ' + response.status + ' for ' + path + '.'); }
      return response.json();
    });
  }

  function buildPath(kind, first) {
    var r = state.route;
    return '/' + kind + '/' + encodeURIComponent(first) + '/' + encodeURIComponent(r.revision) + '/' +
      encodeURIComponent(r.os) + (r.arch ? '/' + encodeURIComponent(r.arch) : '');
  }

  /* -- the Slicer bridge ------------------------------------------------------------------------ */

  function attachBridge() {
    if (state.bridge || !window.extensions_manager_model) { return !!state.bridge; }
    state.bridge = window.extensions_manager_model;
    document.body.classList.add('in-slicer');
    // Buttons instead of download links: render again (the page may have been drawn before Slicer connected).
    if (state.route.kind === 'catalog' && state.items.length) { renderList(); }
    else if (state.route.kind === 'view' && document.body.dataset.loaded) { loadView(); }
    return true;
  }

  function connectBridge() {
    if (attachBridge()) { return; }
    var started = Date.now();
    var timer = setInterval(function () {
      if (attachBridge()) { clearInterval(timer); return; }
      if (Date.now() - started > BRIDGE_WAIT_MS) {
        clearInterval(timer);
        // Slicer did not connect the channel itself: connect it when this is a QtWebEngine page.
        if (window.QWebChannel && window.qt && window.qt.webChannelTransport) {
          new window.QWebChannel(window.qt.webChannelTransport, function (channel) {
            window.extensions_manager_model = channel.objects.extensions_manager_model;
            window.extensions_install_widget = channel.objects.extensions_install_widget;
            attachBridge();
          });
        }
      }
    }, 50);
  }

  function askState(name, done) {
    var model = state.bridge;
    model.isExtensionScheduledForUninstall(name, function (scheduled) {
      if (scheduled) { done('ScheduledForUninstall'); return; }
      model.isExtensionInstalled(name, function (installed) { done(installed ? 'Installed' : 'NotInstalled'); });
    });
  }

  var LABELS = { NotInstalled: ['Install', ''], Installed: ['Uninstall', 'installed'],
                 ScheduledForUninstall: ['Cancel uninstall', 'scheduled'], Installing: ['Installing…', ''] };

  function setButton(name, installState) {
    (state.buttons[name] || []).forEach(function (button) {
      var label = LABELS[installState] || LABELS.NotInstalled;
      button.textContent = label[0];
      button.className = 'action ' + label[1];
      button.dataset.state = installState;
      button.disabled = installState === 'Installing';
    });
  }

  function refreshButtons() {
    Object.keys(state.buttons).forEach(function (name) {
      askState(name, function (s) { setButton(name, s); });
    });
  }

  function onAction(item) {
    var name = item.meta.baseName;
    var button = (state.buttons[name] || [])[0];
    var current = button ? button.dataset.state : 'NotInstalled';
    var model = state.bridge;
    if (current === 'Installed') {
      model.scheduleExtensionForUninstall(name);
    } else if (current === 'ScheduledForUninstall') {
      model.cancelExtensionScheduledForUninstall(name);
    } else {
      setButton(name, 'Installing');
      model.downloadAndInstallExtension(item._id);
      return;
    }
    askState(name, function (s) { setButton(name, s); });
  }

  function actionFor(item) {
    var name = item.meta.baseName;
    var node;
    if (state.bridge || window.extensions_manager_model) {
      node = el('button', { class: 'action', type: 'button', 'data-name': name, text: 'Install',
                            onclick: function () { onAction(item); } });
    } else {
      node = el('a', { class: 'action download', href: config.apiRoot + '/item/' + item._id + '/download',
                       download: '', 'data-name': name, text: 'Download' });
    }
    (state.buttons[name] = state.buttons[name] || []).push(node);
    return node;
  }

  /* -- rendering -------------------------------------------------------------------------------- */

  function icon(item, className) {
    var img = el('img', { class: className || 'icon', alt: '', src: item.meta.icon_url || config.staticRoot +
      'extension-icon.svg' });
    img.addEventListener('error', function () {
      if (img.src.indexOf('extension-icon.svg') < 0) { img.src = config.staticRoot + 'extension-icon.svg'; }
    });
    return img;
  }

  function status(text) {
    var content = document.getElementById('content');
    content.textContent = '';
    content.appendChild(el('p', { class: 'status', id: 'status', text: text }));
  }

  function renderCategories() {
    var counts = {};
    state.items.forEach(function (item) {
      var category = item.meta.category || 'Uncategorized';
      counts[category] = (counts[category] || 0) + 1;
    });
    var nav = document.getElementById('categories');
    nav.textContent = '';
    [['All', state.items.length]].concat(Object.keys(counts).sort().map(function (c) { return [c, counts[c]]; }))
      .forEach(function (entry) {
        nav.appendChild(el('a', { href: buildPath('catalog', entry[0]), 'data-category': entry[0],
                                  class: entry[0] === state.category ? 'active' : '',
                                  onclick: function (event) { event.preventDefault(); selectCategory(entry[0]); } },
                           [el('span', { text: entry[0] }), el('span', { text: String(entry[1]) })]));
      });
  }

  function selectCategory(category) {
    state.category = category;
    history.replaceState(null, '', buildPath('catalog', category) + location.search);
    renderCategories();
    renderList();
  }

  function renderList() {
    state.buttons = {};
    var shown = state.items.filter(function (item) {
      return state.category === 'All' || (item.meta.category || 'Uncategorized') === state.category;
    });
    var content = document.getElementById('content');
    content.textContent = '';
    if (!shown.length) {
      status(state.query ? 'No extension matches “' + state.query + '”.' :
        'No extensions for Slicer revision ' + state.route.revision + ' (' + state.route.os + ') on this server.');
      return;
    }
    var grid = el('div', { class: 'grid', id: 'extensions' });
    shown.forEach(function (item) {
      grid.appendChild(el('article', { class: 'card', 'data-name': item.meta.baseName }, [
        el('div', { class: 'head' }, [icon(item), el('div', {}, [
          el('a', { class: 'name', href: buildPath('view', item.meta.baseName), text: item.meta.baseName }),
          el('div', { class: 'category', text: item.meta.category || '' })])]),
        el('p', { class: 'description', text: item.meta.description || '' }),
        actionFor(item)]));
    });
    content.appendChild(grid);
    if (state.bridge) { refreshButtons(); }
  }

  function loadCatalog() {
    var r = state.route;
    var seq = ++state.loadSeq;
    status('Loading…');
    return api('/app/' + config.appId + '/extension', { app_revision: r.revision, os: r.os, arch: r.arch,
                                                        q: state.query, limit: 0, sort: 'meta.baseName', sortdir: 1 })
      .then(function (items) {
        if (seq !== state.loadSeq) { return; }
        state.items = items;
        renderCategories();
        renderList();
        document.body.dataset.loaded = 'true';
      }).catch(function (error) { status(error.message); document.body.dataset.loaded = 'error'; });
  }

  function row(label, value, link) {
    if (!value) { return []; }
    var dd = link ? el('dd', {}, [el('a', { href: value, target: '_blank', rel: 'noopener', text: value })])
      : el('dd', { text: value });
    return [el('dt', { text: label }), dd];
  }

  function loadView() {
    var r = state.route;
    document.getElementById('search').style.display = 'none';
    return api('/app/' + config.appId + '/extension', { baseName: r.name, app_revision: r.revision, os: r.os,
                                                        arch: r.arch, limit: 1 })
      .then(function (items) {
        var item = items[0];
        if (!item) { status(r.name + ' is not available for Slicer revision ' + r.revision + ' (' + r.os + ').'); return; }
        var m = item.meta;
        var depends = (m.dependency || '').split(/\s+/).filter(function (d) { return d && d !== 'NA'; }).join(', ');
        var facts = [].concat(row('Category', m.category), row('Contributors', m.contributors),
          row('Revision', m.revision), row('Depends on', depends), row('Homepage', m.homepage, true),
          row('Repository', m.repository_url, true), row('Updated', (item.updated || '').slice(0, 10)));
        var shots = (m.screenshots || '').split(/\s+/).filter(Boolean).map(function (url) {
          return el('img', { src: url, alt: 'Screenshot of ' + m.baseName });
        });
        var content = document.getElementById('content');
        content.textContent = '';
        state.buttons = {};
        content.appendChild(el('article', { class: 'details', 'data-name': m.baseName }, [
          el('div', { class: 'head' }, [icon(item), el('h1', { class: 'name', text: m.baseName })]),
          el('p', { class: 'description', text: m.description || '' }),
          actionFor(item), el('dl', {}, facts), el('div', { class: 'shots' }, shots)]));
        document.getElementById('categories').style.display = 'none';
        if (state.bridge) { refreshButtons(); }
        document.body.dataset.loaded = 'true';
      }).catch(function (error) { status(error.message); document.body.dataset.loaded = 'error'; });
  }

  function renderChooser() {
    document.getElementById('search').style.display = 'none';
    var content = document.getElementById('content');
    content.textContent = '';
    var list = el('div', { class: 'builds' });
    config.builds.forEach(function (b) {
      list.appendChild(el('a', { href: '/catalog/All/' + b.revision + '/' + b.os + '/' + b.arch,
                                 text: 'Slicer revision ' + b.revision + ' — ' + b.os + '/' + b.arch + ' (' +
                                   b.count + ' extensions)' }));
    });
    content.appendChild(el('h1', { text: 'Choose your Slicer build' }));
    content.appendChild(config.builds.length ? list : el('p', { class: 'status', text: 'This server has no extensions.' }));
    document.body.dataset.loaded = 'true';
  }

  /* -- what Slicer calls -------------------------------------------------------------------------- */

  var searchTimer = null;

  function search(q) {
    q = q === undefined || q === null ? '' : String(q);
    var input = document.getElementById('search');
    if (input.value !== q) { input.value = q; }
    if (q === state.query && state.items.length) { return; }
    state.query = q;
    if (state.route.kind === 'catalog') { loadCatalog(); }
  }

  function createNotice(message, duration, kind) {
    var notice = el('div', { class: 'notice ' + (kind || ''), role: 'status', text: String(message) });
    document.getElementById('notices').appendChild(notice);
    setTimeout(function () { notice.remove(); }, duration || 2500);
  }

  var theme = { dark: false };
  var app = {
    search: search,
    setExtensionButtonState: function (name, installState) { setButton(name, installState); },
    createNotice: createNotice,
    $vuetify: { theme: {} }
  };
  Object.defineProperty(app.$vuetify.theme, 'dark', {
    get: function () { return theme.dark; },
    set: function (value) { theme.dark = !!value; document.body.classList.toggle('dark', theme.dark); }
  });
  window.app = app;
  window.midas = {
    createNotice: createNotice,
    slicerappstore: {
      search: '',
      applyFilter: function () { search(window.midas.slicerappstore.search); },
      setExtensionButtonState: function (name, legacy) {
        setButton(name, legacy === 'ScheduleUninstall' ? 'ScheduledForUninstall' : 'Installed');
      }
    }
  };

  /* -- start -------------------------------------------------------------------------------------- */

  document.getElementById('search').addEventListener('input', function (event) {
    clearTimeout(searchTimer);
    var value = event.target.value;
    searchTimer = setTimeout(function () { search(value); }, 200);
  });
  document.getElementById('home-link').setAttribute('href', state.route.kind === 'chooser' ? '/catalog' :
    buildPath('catalog', 'All'));
  if (state.route.revision) {
    document.getElementById('build').textContent = 'Slicer revision ' + state.route.revision + ' · ' +
      state.route.os + (state.route.arch ? '/' + state.route.arch : '');
  }
  state.query = new URLSearchParams(location.search).get('q') || '';
  document.getElementById('search').value = state.query;
  state.category = state.route.category || 'All';
  connectBridge();
  if (state.route.kind === 'view') { loadView(); } else if (state.route.kind === 'catalog') { loadCatalog(); }
  else { renderChooser(); }
})();
