// jsforce against the Salesforce simulator: SOAP login, REST, and the
// streaming client receiving change data capture and platform events with
// replay. Run by tests/python/test_jsforce.py, which starts the simulator
// and sets SIM_URL and NODE_EXTRA_CA_CERTS.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import jsforce from 'jsforce';
import streamingApi from 'jsforce/lib/api/streaming.js';

const { StreamingExtension } = streamingApi;

const SIM_URL = process.env.SIM_URL;
assert.ok(SIM_URL, 'SIM_URL must point at a running simulator');
const clients = [];

async function login() {
  const conn = new jsforce.Connection({ loginUrl: SIM_URL, version: '62.0' });
  await conn.login('admin@sluice.dev', 'sluice-demoSLUICETOKEN');
  return conn;
}

/** Subscribes with a replay option and returns a queue of received messages. */
async function subscribe(conn, channel, replayId) {
  const client = conn.streaming.createClient([new StreamingExtension.Replay(channel, replayId)]);
  clients.push(client);
  const received = [];
  const waiters = [];
  const subscription = client.subscribe(channel, (message) => {
    received.push(message);
    while (waiters.length) waiters.shift()();
  });
  await subscription;
  return {
    received,
    async next(predicate, timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(predicate);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching event on ${channel}; got ${JSON.stringify(received)}`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 500));
          waiters.push(() => { clearTimeout(timer); resolve(); });
        });
      }
    },
  };
}

after(() => {
  for (const client of clients) client.disconnect();
});

test('SOAP login sets the instance URL of the simulator', async () => {
  const conn = await login();
  assert.equal(conn.instanceUrl, SIM_URL);
  assert.match(conn.accessToken, /^00D/);
  assert.match(conn.userInfo.organizationId, /^00D/);
});

test('REST create and query through jsforce', async () => {
  const conn = await login();
  const created = await conn.sobject('Contact').create({ LastName: 'Jsforce', Email: 'js@example.com' });
  assert.equal(created.success, true);
  const result = await conn.query(`SELECT Id, Name FROM Contact WHERE Id = '${created.id}'`);
  assert.equal(result.totalSize, 1);
  assert.equal(result.records[0].Name, 'Jsforce');
  const leads = await conn.query('SELECT Id FROM Lead LIMIT 5');
  assert.equal(leads.records.length, 5);
});

test('change data capture events arrive, and replay from an id delivers them again', async () => {
  const conn = await login();
  const channel = '/data/AccountChangeEvent';
  const live = await subscribe(conn, channel, -1);
  const created = await conn.sobject('Account').create({ Name: 'Streaming Co' });
  await conn.sobject('Account').update({ Id: created.id, Industry: 'Energy' });
  const isFor = (type) => (m) =>
    m.payload.ChangeEventHeader.changeType === type && m.payload.ChangeEventHeader.recordIds[0] === created.id;
  const createEvent = await live.next(isFor('CREATE'));
  const updateEvent = await live.next(isFor('UPDATE'));
  assert.equal(createEvent.payload.Name, 'Streaming Co');
  assert.equal(createEvent.payload.ChangeEventHeader.entityName, 'Account');
  assert.ok(updateEvent.payload.ChangeEventHeader.changedFields.includes('Industry'));
  assert.equal(updateEvent.payload.Industry, 'Energy');
  assert.ok(updateEvent.event.replayId > createEvent.event.replayId);

  const replayed = await subscribe(conn, channel, createEvent.event.replayId - 1);
  const again = await replayed.next(isFor('CREATE'));
  assert.equal(again.event.replayId, createEvent.event.replayId);
  const againUpdate = await replayed.next(isFor('UPDATE'));
  assert.equal(againUpdate.event.replayId, updateEvent.event.replayId);

  const all = await subscribe(conn, '/data/ChangeEvents', -2);
  const seen = await all.next(isFor('UPDATE'));
  assert.equal(seen.event.replayId, updateEvent.event.replayId);
});

test('platform events published through REST reach subscribers', async () => {
  const conn = await login();
  const channel = '/event/Holiday_Event__e';
  const live = await subscribe(conn, channel, -1);
  await conn.sobject('Holiday_Event__e').create({ Action__c: 'Add', Holiday_Id__c: 'HOL-7777', Region__c: 'APAC' });
  const event = await live.next((m) => m.payload.Holiday_Id__c === 'HOL-7777');
  assert.equal(event.payload.Action__c, 'Add');
  assert.ok(event.event.replayId > 0);
  assert.match(event.event.EventUuid, /^[0-9a-f-]{36}$/);
});

test('a cancelled subscription receives nothing more', async () => {
  const conn = await login();
  const client = conn.streaming.createClient([new StreamingExtension.Replay('/data/CaseChangeEvent', -1)]);
  clients.push(client);
  const received = [];
  const subscription = client.subscribe('/data/CaseChangeEvent', (message) => received.push(message));
  await subscription;
  const first = await conn.sobject('Case').create({ Subject: 'before cancel' });
  for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(received[0].payload.ChangeEventHeader.recordIds[0], first.id);
  await subscription.cancel();
  await new Promise((r) => setTimeout(r, 300));
  await conn.sobject('Case').create({ Subject: 'after cancel' });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(received.length, 1);
});

test('an unknown replay id is refused', async () => {
  const conn = await login();
  const client = conn.streaming.createClient([new StreamingExtension.Replay('/data/LeadChangeEvent', 999999999)]);
  clients.push(client);
  await assert.rejects(
    Promise.resolve(client.subscribe('/data/LeadChangeEvent', () => {})),
    (error) => /replayId \{999999999\}/.test(String(error.message ?? error)),
  );
});
