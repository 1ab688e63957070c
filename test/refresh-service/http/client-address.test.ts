// The per-address rate limit's key: IPv4 as is (also IPv4-mapped), IPv6 by its /64.
import { describe, expect, it } from 'vitest';
import { clientKey } from '../../../refresh-service/http/client-address.ts';

describe('clientKey', () => {
  it.each([
    ['127.0.0.2', '127.0.0.2'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002::ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('counts %s under %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });
});
