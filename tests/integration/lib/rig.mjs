// What the tests of remote commands share: a server whose tokens are made
// with a known JWT secret, a browser on /ws that keeps every event of one
// charger (each frame checked against ws.schema.json), REST commands
// (answers checked against openapi.json by Server.http), and a strict OCPP
// 1.6 charge point whose every received call is recorded.
import WebSocket from 'ws';
import { cliOk, until } from './server.mjs';
import { checkWsFrame } from './contract.mjs';

export class Rig {
  // name: for messages; secret: the JWT secret the server is started with;
  // cp: the charger the helpers mean when none is named.
  constructor(name, secret, cp) {
    this.name = name;
    this.secret = secret;
    this.cp = cp;
    this.srv = null;
    this.tokens = {};
    this.seen = []; // every call a charger received: {charger, method, params}
  }

  token(sub, role, chargers = '*') {
    return cliOk(['token', '--sub', sub, '--chargers', chargers, '--role', role, '--ttl', '1h'],
      { env: { FLASHCHARGE_JWT_SECRET: this.secret } }).stdout.trim();
  }

  // Tokens of an operator, an admin and a viewer, once the server runs.
  mintTokens() {
    this.tokens.op = this.token('op-alice', 'operator');
    this.tokens.admin = this.token('admin-bob', 'admin');
    this.tokens.viewer = this.token('viewer-carol', 'viewer');
  }

  // REST command: method path body token → {status, json, text}.
  cmd(method, p, body, tok = this.tokens.op) {
    const headers = {};
    if (tok) headers.authorization = `Bearer ${tok}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.srv.http(p, {
      method,
      headers,
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
      timeout: 15000,
    });
  }

  // The charger answers method with fn(params, call); each call is recorded.
  answer(client, method, fn) {
    client.handle(method, (call) => {
      this.seen.push({ charger: client.identity, method, params: call.params });
      return fn(call.params, call);
    });
  }

  lastCall(method, charger = this.cp) {
    return this.seen.filter((c) => c.method === method && c.charger === charger).at(-1);
  }

  callsOf(method, charger = this.cp) {
    return this.seen.filter((c) => c.method === method && c.charger === charger);
  }

  // The stored command rows of a charger's command name, oldest first.
  rows(name, charger = this.cp) {
    return this.srv.sql(`SELECT * FROM commands WHERE charger_id = '${charger}' AND command = '${name}' ORDER BY id`);
  }

  // BootNotification, then connectors 0-2 Available.
  async boot(client) {
    await client.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'T1' });
    for (const connectorId of [0, 1, 2]) {
      await client.call('StatusNotification', { connectorId, errorCode: 'NoError', status: 'Available' });
    }
  }

  // The helpers as plain functions, for a test file's top level.
  bound() {
    const b = {};
    for (const f of ['token', 'cmd', 'answer', 'lastCall', 'callsOf', 'rows', 'boot']) b[f] = this[f].bind(this);
    const rig = this;
    // new Ui(charger): a browser of the operator's, once the server runs
    b.Ui = class extends Ui {
      constructor(charger = rig.cp) {
        super(rig.srv, charger, rig.tokens.op, `the ${rig.name} test's Ui`);
      }
    };
    return b;
  }
}

// A browser on /ws subscribed to one charger; every event, flattened.
export class Ui {
  constructor(srv, charger, token, label) {
    this.events = [];
    this.ws = new WebSocket(`ws://127.0.0.1:${srv.httpPort}/ws?charger=${charger}&token=${token}`);
    this.ws.on('error', () => {});
    this.ws.on('message', (d) => {
      checkWsFrame(d.toString('utf8'), label);
      const v = JSON.parse(d.toString('utf8'));
      for (const e of Array.isArray(v) ? v : [v]) this.events.push(e);
    });
    srv.clients.add(this.ws);
  }

  async ready() {
    await this.wait((e) => e.type === 'snapshot', 'snapshot');
  }

  // The first event matching pred not yet taken (waits for it).
  async wait(pred, what = 'an event', timeout = 5000) {
    return until(() => {
      const i = this.events.findIndex((e) => !e._taken && pred(e));
      if (i < 0) return null;
      this.events[i]._taken = true;
      return this.events[i];
    }, { timeout, interval: 20, what });
  }

  command(name, what) {
    return this.wait((e) => e.type === 'command' && e.data.command === name, what ?? `command ${name}`);
  }
}
