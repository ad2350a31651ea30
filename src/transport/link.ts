import { type Identity, type Role, signAs, type TrustAnchor } from "../credentials/index.ts";
import { DfsError } from "../errors.ts";
import {
  CLIENT_LABEL,
  type ClientAuth,
  ClientAuthMsg,
  type ClientHello,
  ClientHelloMsg,
  clientSigned,
  type Ephemeral,
  type LinkKeys,
  newEphemeral,
  newNonce,
  OpeningKey,
  SERVER_LABEL,
  SealingKey,
  type ServerHello,
  ServerHelloMsg,
  serverSigned,
  sessionKeys,
  sharedSecret,
} from "../protocol/index.ts";

/** What a process brings to the node link: who it is, whom it trusts, and the cluster secret. */
export interface LinkTrust {
  readonly anchor: TrustAnchor;
  readonly identity: Identity;
  /** Mixed into the session keys as a pre-shared key. */
  readonly secret: Buffer;
}

/** The authenticated other end of a connection, from its credential. */
export interface Peer {
  readonly role: Role;
  readonly id: string;
}

/**
 * The client's half of the handshake (src/protocol/handshake.ts). The server must present a `node`
 * credential from our authority and, when `expectedNodeId` is given, exactly that id: a relay or
 * a node at the wrong address gets no session.
 */
export class ClientHandshake {
  readonly #trust: LinkTrust;
  readonly #expected: string | undefined;
  readonly #eph: Ephemeral = newEphemeral();
  readonly hello: ClientHello = { nonce: newNonce(), ephemeral: this.#eph.publicKey };
  #keys: LinkKeys | undefined;
  #peer: Peer | undefined;

  constructor(trust: LinkTrust, expectedNodeId: string | undefined) {
    this.#trust = trust;
    this.#expected = expectedNodeId;
  }

  helloBody(): Buffer {
    return ClientHelloMsg.encode(this.hello);
  }

  /** Checks SERVER_HELLO and answers with the AUTH body; the keys are ready after this. */
  onServerHello(body: Buffer, addr: string): Buffer {
    const server = ServerHelloMsg.decode(body);
    const credential = this.#trust.anchor.credential(server.credential, "node");
    if (this.#expected !== undefined && credential.id !== this.#expected) {
      throw new DfsError(
        "DFS_ERR_AUTH",
        `${addr} presented the credential of node "${credential.id}", expected "${this.#expected}"`,
      );
    }
    if (
      !this.#trust.anchor.signedBy(
        credential,
        SERVER_LABEL,
        serverSigned(this.hello, server),
        server.signature,
      )
    ) {
      throw new DfsError("DFS_ERR_AUTH", `${addr}: the server's handshake signature does not verify`);
    }
    const shared = sharedSecret(this.#eph, server.ephemeral);
    const mine = this.#trust.identity.credential.encoded;
    const auth: ClientAuth = {
      credential: mine,
      signature: signAs(this.#trust.identity, CLIENT_LABEL, clientSigned(this.hello, server, mine)),
    };
    const k = sessionKeys(shared, this.#trust.secret, this.hello, server, auth);
    this.#keys = { send: new SealingKey(k.clientToServer), receive: new OpeningKey(k.serverToClient) };
    this.#peer = { role: credential.role, id: credential.id };
    return ClientAuthMsg.encode(auth);
  }

  get keys(): LinkKeys {
    if (!this.#keys) throw new DfsError("DFS_ERR_INTERNAL", "handshake not done");
    return this.#keys;
  }

  get peer(): Peer {
    if (!this.#peer) throw new DfsError("DFS_ERR_INTERNAL", "handshake not done");
    return this.#peer;
  }
}

/** The server's half: any role may connect; what it may ask is the request handlers' call. */
export class ServerHandshake {
  readonly #trust: LinkTrust;
  readonly #eph: Ephemeral = newEphemeral();
  #hello: ClientHello | undefined;
  #server: ServerHello | undefined;

  constructor(trust: LinkTrust) {
    this.#trust = trust;
  }

  /** Answers HELLO with the SERVER_HELLO body. */
  onHello(body: Buffer): Buffer {
    const hello = ClientHelloMsg.decode(body);
    const unsigned = {
      nonce: newNonce(),
      ephemeral: this.#eph.publicKey,
      credential: this.#trust.identity.credential.encoded,
    };
    const signature = signAs(this.#trust.identity, SERVER_LABEL, serverSigned(hello, unsigned));
    this.#hello = hello;
    this.#server = { ...unsigned, signature };
    return ServerHelloMsg.encode(this.#server);
  }

  /** Checks AUTH: the client's credential and its signature over the transcript. */
  onAuth(body: Buffer): { keys: LinkKeys; peer: Peer } {
    const hello = this.#hello!;
    const server = this.#server!;
    const auth = ClientAuthMsg.decode(body);
    const credential = this.#trust.anchor.credential(auth.credential);
    const signed = clientSigned(hello, server, auth.credential);
    if (!this.#trust.anchor.signedBy(credential, CLIENT_LABEL, signed, auth.signature)) {
      throw new DfsError("DFS_ERR_AUTH", "the client's handshake signature does not verify");
    }
    const shared = sharedSecret(this.#eph, hello.ephemeral);
    const k = sessionKeys(shared, this.#trust.secret, hello, server, auth);
    return {
      keys: { send: new SealingKey(k.serverToClient), receive: new OpeningKey(k.clientToServer) },
      peer: { role: credential.role, id: credential.id },
    };
  }
}
