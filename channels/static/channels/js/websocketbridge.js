/*
 * channels.WebSocketBridge: the Channels 1.x JavaScript WebSocket wrapper.
 *
 *   <script src="{% static "channels/js/websocketbridge.js" %}"></script>
 *   const bridge = new channels.WebSocketBridge();
 *   bridge.connect('/ws/');                 // relative to this page's host
 *   bridge.listen(function (payload, stream) { ... });      // plain messages
 *   bridge.demultiplex('mystream', function (payload, stream) { ... });
 *   bridge.send({prop: 'value'});                            // JSON frame
 *   bridge.stream('mystream').send({prop: 'value'});         // {stream, payload}
 *
 * JSON frames of the form {"stream": name, "payload": ...} go to the
 * callback given to demultiplex(name) (and nowhere if there is none); any
 * other frame goes to the listen() callback with stream null.
 *
 * bridge.socket is a ReconnectingWebSocket: a WebSocket that opens again
 * after it closes, waiting minReconnectionDelay (1500 ms), then that times
 * reconnectionDelayGrowFactor (1.3) per failed try, at most
 * maxReconnectionDelay (10000 ms); a try that has not opened after
 * connectionTimeout (4000 ms) is abandoned; maxRetries (Infinity) bounds
 * the tries. Options go to the constructor of either class. It has
 * onopen/onmessage/onclose/onerror and addEventListener like a WebSocket;
 * frames sent while it is reconnecting are queued (up to maxQueuedMessages,
 * 1000) and sent when it opens. close() stops it for good.
 *
 * Plain ES5, no dependencies: it runs as served, in any browser with
 * WebSocket and JSON.
 */
(function (root, factory) {
  'use strict';
  var exported = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = exported;
  } else {
    root.channels = root.channels || {};
    root.channels.WebSocketBridge = exported.WebSocketBridge;
    root.channels.ReconnectingWebSocket = exported.ReconnectingWebSocket;
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var DEFAULTS = {
    maxReconnectionDelay: 10000,
    minReconnectionDelay: 1500,
    reconnectionDelayGrowFactor: 1.3,
    connectionTimeout: 4000,
    maxRetries: Infinity,
    maxQueuedMessages: 1000,
    debug: false
  };
  var CONNECTING = 0;
  var OPEN = 1;
  var CLOSING = 2;
  var CLOSED = 3;

  function extend(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i] || {};
      for (var key in source) {
        if (Object.prototype.hasOwnProperty.call(source, key)) {
          target[key] = source[key];
        }
      }
    }
    return target;
  }

  /**
   * A WebSocket that reconnects after it closes (see the file comment).
   */
  function ReconnectingWebSocket(url, protocols, options) {
    this.url = url;
    this.protocols = protocols;
    this.options = extend({}, DEFAULTS, options);
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    this._listeners = {open: [], message: [], close: [], error: []};
    this._queue = [];
    this._retries = 0;
    this._keepClosed = false;
    this._ws = null;
    this._connectTimer = null;
    this._retryTimer = null;
    this._open();
  }

  ReconnectingWebSocket.CONNECTING = CONNECTING;
  ReconnectingWebSocket.OPEN = OPEN;
  ReconnectingWebSocket.CLOSING = CLOSING;
  ReconnectingWebSocket.CLOSED = CLOSED;

  ReconnectingWebSocket.prototype = {
    constructor: ReconnectingWebSocket,

    get readyState() {
      if (this._ws) {
        return this._ws.readyState;
      }
      return this._keepClosed ? CLOSED : CONNECTING;
    },

    get protocol() {
      return this._ws ? this._ws.protocol : '';
    },

    get bufferedAmount() {
      return this._ws ? this._ws.bufferedAmount : 0;
    },

    /** How many times the socket has tried to open since it was last open. */
    get retryCount() {
      return this._retries;
    },

    addEventListener: function (type, listener) {
      if (this._listeners[type] && this._listeners[type].indexOf(listener) < 0) {
        this._listeners[type].push(listener);
      }
    },

    removeEventListener: function (type, listener) {
      var listeners = this._listeners[type] || [];
      var index = listeners.indexOf(listener);
      if (index >= 0) {
        listeners.splice(index, 1);
      }
    },

    /** Send now if open, else queue for the next open (oldest dropped past the bound). */
    send: function (data) {
      if (this._ws && this._ws.readyState === OPEN) {
        this._ws.send(data);
        return;
      }
      if (this._keepClosed) {
        throw new Error('ReconnectingWebSocket: send() after close()');
      }
      this._queue.push(data);
      if (this._queue.length > this.options.maxQueuedMessages) {
        this._queue.shift();
        this._log('send queue full: dropped the oldest message');
      }
    },

    /** Close for good: no reconnection. */
    close: function (code, reason) {
      this._keepClosed = true;
      this._clearTimers();
      this._queue = [];
      if (this._ws) {
        this._ws.close(code === undefined ? 1000 : code, reason);
      }
    },

    /** Close the current socket and open a new one at once. */
    reconnect: function () {
      var old = this._ws;
      this._keepClosed = false;
      this._retries = 0;
      this._clearTimers();
      this._ws = null;  // its close event is no longer ours
      if (old && old.readyState < CLOSING) {
        old.close(1000, 'reconnect');
      }
      this._open();
    },

    _log: function (text) {
      if (this.options.debug && typeof console !== 'undefined') {
        console.debug('ReconnectingWebSocket', this.url, text);
      }
    },

    _emit: function (type, event) {
      var handler = this['on' + type];
      if (typeof handler === 'function') {
        handler.call(this, event);
      }
      var listeners = this._listeners[type].slice();
      for (var i = 0; i < listeners.length; i++) {
        listeners[i].call(this, event);
      }
    },

    _clearTimers: function () {
      clearTimeout(this._connectTimer);
      clearTimeout(this._retryTimer);
      this._connectTimer = this._retryTimer = null;
    },

    _nextDelay: function () {
      var o = this.options;
      var delay = o.minReconnectionDelay * Math.pow(o.reconnectionDelayGrowFactor, this._retries - 1);
      return Math.min(delay, o.maxReconnectionDelay);
    },

    _open: function () {
      var self = this;
      // options.constructor: another WebSocket class (tests, Node); only an own property counts.
      var Socket = Object.prototype.hasOwnProperty.call(this.options, 'constructor') ?
        this.options.constructor : (typeof WebSocket !== 'undefined' ? WebSocket : null);
      if (!Socket) {
        throw new Error('ReconnectingWebSocket: no WebSocket class in this environment');
      }
      this._log('connecting (try ' + (this._retries + 1) + ')');
      var ws = this.protocols === undefined ? new Socket(this.url) : new Socket(this.url, this.protocols);
      this._ws = ws;
      this._connectTimer = setTimeout(function () {
        self._log('connection timeout');
        ws.close();
      }, this.options.connectionTimeout);

      ws.onopen = function (event) {
        clearTimeout(self._connectTimer);
        self._retries = 0;
        self._log('open');
        var queued = self._queue;
        self._queue = [];
        for (var i = 0; i < queued.length; i++) {
          ws.send(queued[i]);
        }
        self._emit('open', event);
      };
      ws.onmessage = function (event) {
        self._emit('message', event);
      };
      ws.onerror = function (event) {
        self._emit('error', event);
      };
      ws.onclose = function (event) {
        clearTimeout(self._connectTimer);
        if (ws !== self._ws) {
          return;
        }
        self._emit('close', event);
        if (self._keepClosed) {
          return;
        }
        self._retries += 1;
        if (self._retries > self.options.maxRetries) {
          self._log('giving up after ' + self.options.maxRetries + ' retries');
          self._keepClosed = true;
          return;
        }
        var delay = self._nextDelay();
        self._log('closed (' + event.code + '); reconnecting in ' + delay + ' ms');
        self._retryTimer = setTimeout(function () {
          self._open();
        }, delay);
      };
    }
  };

  /**
   * The bridge between a Channels WebSocket and JavaScript callbacks.
   */
  function WebSocketBridge(options) {
    /** The underlying ReconnectingWebSocket (set by connect()). */
    this.socket = null;
    this.streams = {};
    this.default_cb = null;
    this.options = extend({}, options);
  }

  WebSocketBridge.prototype = {
    constructor: WebSocketBridge,

    /**
     * Open the socket. `url` defaults to this page's host; a URL starting
     * with '/' is taken relative to it (ws:, or wss: on an https: page).
     */
    connect: function (url, protocols, options) {
      var scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
      var base = scheme + '://' + window.location.host;
      var target;
      if (url === undefined) {
        target = base;
      } else if (url.charAt(0) === '/') {
        target = base + url;
      } else {
        target = url;
      }
      this.socket = new ReconnectingWebSocket(target, protocols, extend({}, this.options, options));
    },

    /**
     * Start dispatching frames: multiplexed ones to their stream's callback,
     * others to `cb(payload, null)`.
     */
    listen: function (cb) {
      var self = this;
      this.default_cb = cb;
      this.socket.onmessage = function (event) {
        var msg = JSON.parse(event.data);
        if (msg !== null && typeof msg === 'object' && msg.stream !== undefined) {
          var streamCallback = self.streams[msg.stream];
          if (streamCallback) {
            streamCallback(msg.payload, msg.stream);
          }
        } else if (self.default_cb) {
          self.default_cb(msg, null);
        }
      };
    },

    /** Call `cb(payload, stream)` for every frame on `stream`. */
    demultiplex: function (stream, cb) {
      this.streams[stream] = cb;
    },

    /** Send `msg` as a JSON frame. */
    send: function (msg) {
      this.socket.send(JSON.stringify(msg));
    },

    /** An object whose send(payload) sends `{stream, payload}`. */
    stream: function (stream) {
      var self = this;
      return {
        send: function (payload) {
          self.socket.send(JSON.stringify({stream: stream, payload: payload}));
        }
      };
    }
  };

  return {WebSocketBridge: WebSocketBridge, ReconnectingWebSocket: ReconnectingWebSocket};
}));
