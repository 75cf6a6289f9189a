/**
 * Which interfaces are announced on and with which addresses: loopback never, each interface
 * only its own IPv4 addresses, the configured subset, and the listener's one address if it has
 * one. The interface tables are made up here (the test machine has one real interface).
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { selectInterfaces } from '../../src/discovery/interfaces.js';

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({
  address,
  netmask: '255.255.255.0',
  family: 'IPv4',
  mac: '02:00:00:00:00:01',
  internal,
  cidr: `${address}/24`,
});
const v6 = (address: string): NetworkInterfaceInfo => ({
  address,
  netmask: 'ffff:ffff:ffff:ffff::',
  family: 'IPv6',
  mac: '02:00:00:00:00:01',
  internal: false,
  cidr: `${address}/64`,
  scopeid: 2,
});

const TABLE = {
  lo: [v4('127.0.0.1', true)],
  eth0: [v4('192.168.1.5'), v6('fe80::1')],
  eth1: [v4('10.0.0.5'), v4('10.0.0.6')],
  docker0: [v4('172.17.0.1')],
  wg0: [v6('fd00::1')],
};

describe('selectInterfaces', () => {
  it('takes every non-loopback interface with IPv4 by default, each with its own', () => {
    expect(selectInterfaces([], '0.0.0.0', TABLE)).toEqual({
      kind: 'interfaces',
      interfaces: [
        { name: 'eth0', addresses: ['192.168.1.5'] },
        { name: 'eth1', addresses: ['10.0.0.5', '10.0.0.6'] },
        { name: 'docker0', addresses: ['172.17.0.1'] },
      ],
    });
  });

  it('takes the configured names, or just the configured addresses', () => {
    const selection = selectInterfaces(['eth1', '192.168.1.5'], '::', TABLE);
    expect(selection).toEqual({
      kind: 'interfaces',
      interfaces: [
        { name: 'eth0', addresses: ['192.168.1.5'] },
        { name: 'eth1', addresses: ['10.0.0.5', '10.0.0.6'] },
      ],
    });
    expect(selectInterfaces(['10.0.0.6'], '0.0.0.0', TABLE)).toEqual({
      kind: 'interfaces',
      interfaces: [{ name: 'eth1', addresses: ['10.0.0.6'] }],
    });
  });

  it('restricts a listener on one address to that address', () => {
    expect(selectInterfaces([], '10.0.0.6', TABLE)).toEqual({
      kind: 'interfaces',
      interfaces: [{ name: 'eth1', addresses: ['10.0.0.6'] }],
    });
  });

  it('says why there is nothing to announce', () => {
    expect(selectInterfaces([], '127.0.0.1', TABLE)).toEqual({
      kind: 'none',
      reason: 'loopback_only',
    });
    expect(selectInterfaces([], 'fd00::1', TABLE)).toEqual({
      kind: 'none',
      reason: 'ipv6_listener',
    });
    expect(selectInterfaces(['wg0'], '0.0.0.0', TABLE)).toEqual({
      kind: 'none',
      reason: 'no_interface',
    });
    expect(selectInterfaces([], '0.0.0.0', { lo: TABLE.lo })).toEqual({
      kind: 'none',
      reason: 'no_interface',
    });
  });
});
