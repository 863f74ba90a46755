import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangeFeed, type FeedTopic } from './change-feed.js';

function sources() {
  const state = { services: 1, agents: 'a', config: 0 };
  return { state, feed: { services: () => String(state.services), agents: () => state.agents, config: () => String(state.config) } };
}

test('a tick names exactly the topics whose fingerprint moved since the previous tick', () => {
  const { state, feed: src } = sources();
  const feed = new ChangeFeed(src, { pollMs: 60_000, statsEveryMs: 600_000 });
  const heard: FeedTopic[][] = [];
  const stop = feed.subscribe((t) => heard.push(t));
  try {
    feed.tick();
    assert.deepEqual(heard, [], 'nothing changed since subscribing');
    state.services = 2;
    state.config = 5;
    feed.tick();
    state.agents = 'b';
    feed.tick();
    feed.tick();
    assert.deepEqual(heard, [['services', 'config'], ['agents']]);
  } finally {
    stop();
  }
});

test('stats fires every statsEveryMs worth of ticks even when nothing else moves', () => {
  const { feed: src } = sources();
  const feed = new ChangeFeed(src, { pollMs: 1000, statsEveryMs: 3000 });
  const heard: FeedTopic[][] = [];
  const stop = feed.subscribe((t) => heard.push(t));
  try {
    for (let i = 0; i < 7; i++) feed.tick();
    assert.deepEqual(heard, [['stats'], ['stats']]);
  } finally {
    stop();
  }
});

test('the timer runs only while someone listens; a listener that throws is dropped, the others still hear', () => {
  const { state, feed: src } = sources();
  const feed = new ChangeFeed(src, { pollMs: 60_000, statsEveryMs: 600_000 });
  const heard: FeedTopic[][] = [];
  const stopBad = feed.subscribe(() => {
    throw new Error('broken listener');
  });
  const stopGood = feed.subscribe((t) => heard.push(t));
  assert.equal(feed.subscribers, 2);
  state.services = 9;
  feed.tick();
  assert.deepEqual(heard, [['services']]);
  assert.equal(feed.subscribers, 1);
  stopBad();
  stopGood();
  assert.equal(feed.subscribers, 0);
  feed.close();
});
