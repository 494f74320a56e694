import { SUPPORTED_PROTOCOL_VERSIONS } from '@app/protocol';
import { negotiateProtocolVersion } from './protocol-version';

describe('negotiateProtocolVersion (protocol.md §3.2)', () => {
  it('the gateway supports versions 1 and 2', () => {
    expect([...SUPPORTED_PROTOCOL_VERSIONS]).toEqual([1, 2]);
  });

  it.each([[undefined], ['/ws'], ['/'], ['/ws?token=abc'], ['/ws?protocol=2']])(
    'chooses 1 when the client states no preference (%p)',
    (url) => {
      expect(negotiateProtocolVersion(url)).toBe(1);
    },
  );

  it.each([
    ['/ws?protocolVersion=1', 1],
    ['/ws?protocolVersions=1', 1],
    ['/ws?protocolVersions=1,2', 2],
    ['/ws?protocolVersions=2,1', 2],
    ['/ws?protocolVersions=%201%20,%202', 2],
    ['/ws?protocolVersions=abc,1', 1],
    ['/ws?protocolVersion=2', 2],
    ['/ws?protocolVersions=2,3', 2],
    ['/ws?protocolVersions=3,4', null],
    ['/ws?protocolVersion=0', null],
    ['/ws?protocolVersion=-1', null],
    ['/ws?protocolVersion=1.5', null],
    ['/ws?protocolVersion=abc', null],
  ])('%s → %p', (url, expected) => {
    expect(negotiateProtocolVersion(url)).toBe(expected);
  });

  it('never throws on odd URLs and only returns a supported version or null', () => {
    for (const url of [
      '',
      '?',
      '/ws?protocolVersion',
      '//evil',
      '/ws?protocolVersions=,,,',
      '/ws?%zz=1',
      'ws://h/ws?protocolVersion=1',
    ]) {
      const v = negotiateProtocolVersion(url);
      expect(v === null || SUPPORTED_PROTOCOL_VERSIONS.includes(v)).toBe(true);
    }
  });
});

describe('negotiateProtocolVersion with a gateway supporting only {1}', () => {
  let negotiate: typeof negotiateProtocolVersion;

  beforeAll(() => {
    jest.isolateModules(() => {
      jest.doMock('@app/protocol', () => ({ SUPPORTED_PROTOCOL_VERSIONS: [1] }));
      negotiate = (require('./protocol-version') as typeof import('./protocol-version'))
        .negotiateProtocolVersion;
    });
  });

  afterAll(() => jest.dontMock('@app/protocol'));

  it.each([
    ['/ws', 1],
    ['/ws?protocolVersion=1', 1],
    ['/ws?protocolVersion=2', null],
    ['/ws?protocolVersions=1,2', 1],
    ['/ws?protocolVersions=2,1', 1],
    ['/ws?protocolVersions=1,2,3', 1],
    ['/ws?protocolVersions=3,4', null],
  ])('an SDK offering 1,2 still reaches a v1 gateway: %s → %p', (url, expected) => {
    expect(negotiate(url)).toBe(expected);
  });
});
