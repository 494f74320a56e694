import type { Permission } from '@app/protocol';

/**
 * A client message type contributed by an extension module: its `type`, the DTO class the frame
 * pipeline validates it with (class-validator decorators; only declared fields are copied) and the
 * permission the message guard requires. Its handler is a `@SubscribeMessage(type)` method in a
 * `@ProtocolGateway()` class of the extension's module (docs/extending.md).
 */
export interface ClientMessageExtension {
  type: string;
  dto: new () => object;
  permission: Permission;
}

/** The contributed message types (provided by `bootstrap({ extensions })`; absent otherwise). */
export const CLIENT_MESSAGE_EXTENSIONS = Symbol('CLIENT_MESSAGE_EXTENSIONS');

/**
 * The contributed types by name. A type of the core protocol, or one contributed twice, is refused
 * at boot: an extension adds messages, it never replaces one.
 */
export function extensionMessageTable(
  extensions: readonly ClientMessageExtension[],
  isCoreType: (type: string) => boolean,
): ReadonlyMap<string, ClientMessageExtension> {
  const table = new Map<string, ClientMessageExtension>();
  for (const ext of extensions) {
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(ext.type)) {
      throw new Error(`extension message type "${ext.type}" is not a lower_snake_case name`);
    }
    if (isCoreType(ext.type) || table.has(ext.type)) {
      throw new Error(`extension message type "${ext.type}" is already defined`);
    }
    table.set(ext.type, ext);
  }
  return table;
}
