import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channels, createEventOwner } from '../../src/events/channels.js';
import { componentEvents } from '../../src/events/owner.js';
import { memoryLogger } from '../support/memory-logger.js';

describe('the owner a component publishes under', () => {
  it("made by a client or service, a part publishes under its maker's owner and subscribes nothing itself", () => {
    const maker = createEventOwner('service', 'api-1');
    const { logger, events } = memoryLogger('part');
    const part = componentEvents('tls', 'tls', { events: maker, logger });
    assert.equal(part.owner, maker);
    channels.tlsReloaded.publish({ owner: part.owner, trigger: 'file', material: { what: 'server certificate' } });
    assert.deepEqual(events(), [], "the maker's logger writes the line, not the part's");
    part.close();
  });

  it('made on its own with a logger, a part gets an owner of its own, whose lines only go to that logger, until closed', () => {
    const { logger, events } = memoryLogger('part');
    const part = componentEvents('users', '/etc/farol/users.txt', { logger });
    assert.deepEqual({ kind: part.owner.kind, id: part.owner.id }, { kind: 'users', id: '/etc/farol/users.txt' });
    channels.usersReloaded.publish({ owner: part.owner, file: 'users.txt', users: 2, generation: 1, revoked: 0 });
    channels.usersReloaded.publish({ owner: createEventOwner('users', '/etc/farol/users.txt'), file: 'other.txt', users: 1, generation: 1, revoked: 0 });
    assert.deepEqual(events(), ['users_reloaded'], 'an equal-looking owner is another owner');
    part.close();
    part.close();
    channels.usersReloaded.publish({ owner: part.owner, file: 'users.txt', users: 3, generation: 2, revoked: 0 });
    assert.deepEqual(events(), ['users_reloaded'], 'nothing after close');
    assert.equal(channels.usersReloaded.hasSubscribers, false);
  });
});
