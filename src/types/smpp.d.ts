/**
 * Types for the parts of `smpp` 0.5.1 (CommonJS, no bundled types) the bridge uses, written from
 * `lib/js`, `lib/pdu.js` and `lib/defs.js` of that version. Import the default export:
 * `import smpp from 'smpp'`.
 *
 * Received PDU fields are all optional: a body may be truncated (the parser stops at command_length) and a
 * response with a non-zero command_status has no body at all.
 */
declare module 'smpp' {
  import { EventEmitter } from 'node:events';
  import * as net from 'node:net';
  import type * as tls from 'node:tls';

  namespace smpp {
    /** What the library's default decode filter makes of short_message / message_payload (lossy). */
    interface DecodedMessage {
      message: string | Buffer;
      udh?: Buffer[];
    }
    /** What the encode filter accepts; a Buffer passes through untouched. */
    type MessageInput = Buffer | string | { message: string | Buffer; udh?: Buffer };
    /** A received short_message: a Buffer when the decode filter is a passthrough (see src/smpp/raw-pdu.ts). */
    type MessageOutput = Buffer | DecodedMessage;

    /** SMPP 3.4 §5.3.2 optional parameters used by the bridge. Unknown tags land under their numeric id. */
    interface Tlvs<M = MessageInput> {
      receipted_message_id?: string;
      message_state?: number;
      network_error_code?: Buffer;
      message_payload?: M;
      sar_msg_ref_num?: number;
      sar_total_segments?: number;
      sar_segment_seqnum?: number;
      source_port?: number;
      dest_port?: number;
      user_message_reference?: number;
      payload_type?: number;
      more_messages_to_send?: number;
      delivery_failure_reason?: number;
      additional_status_info_text?: string;
      sc_interface_version?: number;
      ms_availability_status?: number;
      congestion_state?: number;
      language_indicator?: number;
      privacy_indicator?: number;
      qos_time_to_live?: number;
      ussd_service_op?: number;
    }

    interface BindParams {
      system_id?: string;
      password?: string;
      system_type?: string;
      /** library default 0x50 (SMPP 5.0); send 0x34 explicitly */
      interface_version?: number;
      addr_ton?: number;
      addr_npi?: number;
      address_range?: string;
    }
    interface SystemIdParams {
      system_id?: string;
    }
    interface MessageIdParams {
      message_id?: string;
    }
    interface AddressParams {
      service_type?: string;
      source_addr_ton?: number;
      source_addr_npi?: number;
      source_addr?: string;
      dest_addr_ton?: number;
      dest_addr_npi?: number;
      destination_addr?: string;
    }
    /** SMPP 3.4 §4.4.1 submit_sm and §4.6.1 deliver_sm share this body. */
    interface SmParams<M> extends AddressParams {
      esm_class?: number;
      protocol_id?: number;
      priority_flag?: number;
      /** absolute YYMMDDhhmmsstnnp or relative ...R; a string of 12 or fewer chars is made relative */
      schedule_delivery_time?: string | Date;
      validity_period?: string | Date;
      registered_delivery?: number;
      replace_if_present_flag?: number;
      /** library default null: it then guesses from a string message */
      data_coding?: number | null;
      sm_default_msg_id?: number;
      /** at most 254 octets: longer throws a RangeError inside toBuffer */
      short_message?: M;
    }
    interface DataSmParams extends AddressParams {
      esm_class?: number;
      registered_delivery?: number;
      data_coding?: number | null;
    }
    interface QuerySmParams {
      message_id?: string;
      source_addr_ton?: number;
      source_addr_npi?: number;
      source_addr?: string;
    }
    interface AlertNotificationParams {
      source_addr_ton?: number;
      source_addr_npi?: number;
      source_addr?: string;
      esme_addr_ton?: number;
      esme_addr_npi?: number;
      esme_addr?: string;
    }
    // biome-ignore lint/complexity/noBannedTypes: bodiless PDUs
    type NoParams = {};

    /** Mandatory parameters per command (`defs.commands`); M is short_message's type. */
    interface CommandParams<M> {
      alert_notification: AlertNotificationParams;
      bind_receiver: BindParams;
      bind_receiver_resp: SystemIdParams;
      bind_transmitter: BindParams;
      bind_transmitter_resp: SystemIdParams;
      bind_transceiver: BindParams;
      bind_transceiver_resp: SystemIdParams;
      broadcast_sm: AddressParams & MessageIdParams & Record<string, unknown>;
      broadcast_sm_resp: MessageIdParams;
      cancel_broadcast_sm: QuerySmParams & { service_type?: string };
      cancel_broadcast_sm_resp: NoParams;
      cancel_sm: AddressParams & MessageIdParams;
      cancel_sm_resp: NoParams;
      data_sm: DataSmParams;
      data_sm_resp: MessageIdParams;
      deliver_sm: SmParams<M>;
      deliver_sm_resp: MessageIdParams;
      enquire_link: NoParams;
      enquire_link_resp: NoParams;
      generic_nack: NoParams;
      outbind: { system_id?: string; password?: string };
      query_broadcast_sm: QuerySmParams;
      query_broadcast_sm_resp: MessageIdParams;
      query_sm: QuerySmParams;
      query_sm_resp: MessageIdParams & {
        final_date?: string | Date;
        message_state?: number;
        error_code?: number;
      };
      replace_sm: QuerySmParams & Omit<SmParams<M>, keyof AddressParams | 'esm_class' | 'protocol_id'>;
      replace_sm_resp: NoParams;
      submit_multi: Omit<SmParams<M>, 'dest_addr_ton' | 'dest_addr_npi' | 'destination_addr'> & {
        dest_address?: Array<
          { dest_addr_ton?: number; dest_addr_npi?: number; destination_addr: string } | { dl_name: string }
        >;
      };
      submit_multi_resp: MessageIdParams & {
        unsuccess_sme?: Array<{
          dest_addr_ton: number;
          dest_addr_npi: number;
          destination_addr: string;
          error_status_code: number;
        }>;
      };
      submit_sm: SmParams<M>;
      submit_sm_resp: MessageIdParams;
      unbind: NoParams;
      unbind_resp: NoParams;
    }

    type CommandName = keyof CommandParams<unknown>;
    /** Commands that have a `<command>_resp`. */
    type RequestName = {
      [K in CommandName]: `${K}_resp` extends CommandName ? K : never;
    }[CommandName];
    type ResponseName<K extends CommandName | 'unknown'> = K extends 'unknown'
      ? 'generic_nack'
      : `${K}_resp` extends CommandName
        ? `${K}_resp`
        : never;

    interface PduHeader<K extends CommandName | 'unknown'> {
      command: K;
      command_id: number;
      command_length: number;
      command_status: number;
      sequence_number: number;
      isResponse(): boolean;
      /** the matching `_resp` (generic_nack with ESME_RINVCMDID for an unknown command) */
      response(options?: PduOptions<ResponseName<K> & CommandName>): Pdu<ResponseName<K> & CommandName>;
      toBuffer(): Buffer;
    }

    /** Options for `new PDU(command, options)` and the Session shortcuts. */
    type PduOptions<K extends CommandName> = CommandParams<MessageInput>[K] &
      Tlvs<MessageInput> & { command_status?: number; sequence_number?: number };

    /** A PDU of one command, as built or as received. */
    type Pdu<K extends CommandName> = PduHeader<K> & CommandParams<MessageOutput>[K] & Tlvs<MessageOutput>;
    /** A PDU whose command_id the library does not know: no body is parsed. */
    type UnknownPdu = PduHeader<'unknown'>;
    /** Any received PDU; narrow on `command`. */
    type AnyPdu = { [K in CommandName]: Pdu<K> }[CommandName] | UnknownPdu;

    interface PduConstructor {
      new <K extends CommandName>(command: K, options?: PduOptions<K>): Pdu<K>;
      /** Parses one whole PDU; throws on a malformed body. */
      new (buffer: Buffer): AnyPdu;
      commandLength(stream: NodeJS.ReadableStream): number | false;
      fromStream(stream: NodeJS.ReadableStream, commandLength: number): AnyPdu | false;
      fromBuffer(buffer: Buffer): AnyPdu | false;
      /** 16384: a longer command_length is a parse error */
      maxLength: number;
    }

    interface ConnectOptions extends Omit<tls.ConnectionOptions, 'host' | 'port'> {
      /** `smpp://host:port` or `ssmpp://host:port` (TLS); sets host, port and tls */
      url?: string;
      host?: string;
      port?: number | string;
      tls?: boolean;
      /** the library's own enquire_link timer; it never checks the response, so the bridge does not use it */
      auto_enquire_link_period?: number;
    }
    interface SessionOptions extends ConnectOptions {
      socket?: net.Socket;
    }

    type SessionEvents = {
      connect: [];
      secureConnect: [];
      close: [];
      /** socket errors, and parse errors: after a parse error the session never reads again */
      error: [err: Error];
      pdu: [pdu: AnyPdu];
      send: [pdu: AnyPdu];
      unknown: [pdu: UnknownPdu];
    } & { [K in CommandName]: [pdu: Pdu<K>] };

    /** `session.submit_sm(options, onResponse, onSent)`: false when the socket is not writable. */
    type Shortcut<K extends CommandName> = (
      options?: PduOptions<K>,
      responseCallback?: (pdu: AnyPdu) => void,
      sendCallback?: (pdu: Pdu<K>) => void,
    ) => boolean;
    type Shortcuts = { [K in CommandName]: Shortcut<K> };

    interface ServerOptions extends net.ServerOpts {
      /** with both key and cert the server is a tls.Server */
      key?: tls.TlsOptions['key'];
      cert?: tls.TlsOptions['cert'];
    }

    interface FilterDef {
      encode(this: AnyPdu, value: unknown): unknown;
      decode(this: AnyPdu, value: unknown, skipUdh?: boolean): unknown;
    }
    interface TypeDef {
      read(buffer: Buffer, offset: number, length?: number): unknown;
      write(value: unknown, buffer: Buffer, offset: number): void;
      size(value: unknown): number;
      default: unknown;
    }
    interface ParamDef {
      type: TypeDef;
      default?: unknown;
      filter?: FilterDef;
    }
    interface CommandDef {
      id: number;
      command: string;
      params?: Record<string, ParamDef>;
      tlvMap?: Record<string, string>;
    }
    interface TlvDef {
      id: number;
      tag: string;
      type: TypeDef;
      filter?: FilterDef;
      multiple?: true;
    }

    class Session extends EventEmitter<SessionEvents> {
      constructor(options: SessionOptions);
      options: SessionOptions;
      socket: net.Socket;
      /** last sequence_number used; a fresh session starts at 0 */
      sequence: number;
      paused: boolean;
      /** set on sessions a Server created */
      server?: Server;
      /**
       * Assigns sequence_number to a request. Writes `pdu.toBuffer()`, which throws synchronously on a value
       * that does not fit (short_message over 254 octets). False when the socket is not writable.
       */
      send(
        pdu: AnyPdu,
        responseCallback?: (pdu: AnyPdu) => void,
        sendCallback?: (pdu: AnyPdu) => void,
      ): boolean;
      /** reconnects the same socket: the bridge never does this, it makes a fresh session */
      connect(): void;
      pause(): void;
      resume(): void;
      /** socket.end() */
      close(callback?: () => void): void;
      /** socket.destroy() */
      destroy(callback?: () => void): void;
    }
    interface Session extends Shortcuts {}

    class Server extends net.Server {
      constructor(options?: ServerOptions, listener?: (session: Session) => void);
      /** sessions whose socket is still open */
      sessions: Session[];
      on(event: 'session', listener: (session: Session) => void): this;
      // biome-ignore lint/suspicious/noExplicitAny: same signature as net.Server's, which it must stay compatible with
      on(event: string, listener: (...args: any[]) => void): this;
      once(event: 'session', listener: (session: Session) => void): this;
      // biome-ignore lint/suspicious/noExplicitAny: same signature as net.Server's, which it must stay compatible with
      once(event: string, listener: (...args: any[]) => void): this;
    }

    type Consts = {
      REGISTERED_DELIVERY: Readonly<
        Record<
          | 'FINAL'
          | 'FAILURE'
          | 'SUCCESS'
          | 'DELIVERY_ACKNOWLEDGEMENT'
          | 'USER_ACKNOWLEDGEMENT'
          | 'INTERMEDIATE',
          number
        >
      >;
      ESM_CLASS: Readonly<
        Record<
          | 'DATAGRAM'
          | 'FORWARD'
          | 'STORE_FORWARD'
          | 'MC_DELIVERY_RECEIPT'
          | 'DELIVERY_ACKNOWLEDGEMENT'
          | 'USER_ACKNOWLEDGEMENT'
          | 'CONVERSATION_ABORT'
          | 'INTERMEDIATE_DELIVERY'
          | 'UDH_INDICATOR'
          | 'KANNEL_UDH_INDICATOR'
          | 'SET_REPLY_PATH',
          number
        >
      >;
      MESSAGE_STATE: Readonly<
        Record<
          | 'SCHEDULED'
          | 'ENROUTE'
          | 'DELIVERED'
          | 'EXPIRED'
          | 'DELETED'
          | 'UNDELIVERABLE'
          | 'ACCEPTED'
          | 'UNKNOWN'
          | 'REJECTED'
          | 'SKIPPED',
          number
        >
      >;
      TON: Readonly<
        Record<
          | 'UNKNOWN'
          | 'INTERNATIONAL'
          | 'NATIONAL'
          | 'NETWORK_SPECIFIC'
          | 'SUBSCRIBER_NUMBER'
          | 'ALPHANUMERIC'
          | 'ABBREVIATED',
          number
        >
      >;
      NPI: Readonly<
        Record<
          | 'UNKNOWN'
          | 'ISDN'
          | 'DATA'
          | 'TELEX'
          | 'LAND_MOBILE'
          | 'NATIONAL'
          | 'PRIVATE'
          | 'ERMES'
          | 'INTERNET'
          | 'IP'
          | 'WAP',
          number
        >
      >;
      ENCODING: Readonly<
        Record<'SMSC_DEFAULT' | 'ASCII' | 'IA5' | 'LATIN1' | 'ISO_8859_1' | 'BINARY' | 'UCS2', number>
      > &
        Readonly<Record<string, number>>;
    };

    /** SMPP 3.4 §5.1.3 command_status values, by the library's names. */
    type Errors = Readonly<
      Record<
        | 'ESME_ROK'
        | 'ESME_RINVMSGLEN'
        | 'ESME_RINVCMDLEN'
        | 'ESME_RINVCMDID'
        | 'ESME_RINVBNDSTS'
        | 'ESME_RALYBND'
        | 'ESME_RINVPRTFLG'
        | 'ESME_RINVREGDLVFLG'
        | 'ESME_RSYSERR'
        | 'ESME_RINVSRCADR'
        | 'ESME_RINVDSTADR'
        | 'ESME_RINVMSGID'
        | 'ESME_RBINDFAIL'
        | 'ESME_RINVPASWD'
        | 'ESME_RINVSYSID'
        | 'ESME_RCANCELFAIL'
        | 'ESME_RREPLACEFAIL'
        | 'ESME_RMSGQFUL'
        | 'ESME_RINVSERTYP'
        | 'ESME_RINVNUMDESTS'
        | 'ESME_RINVDLNAME'
        | 'ESME_RINVDESTFLAG'
        | 'ESME_RINVSUBREP'
        | 'ESME_RINVESMCLASS'
        | 'ESME_RCNTSUBDL'
        | 'ESME_RSUBMITFAIL'
        | 'ESME_RINVSRCTON'
        | 'ESME_RINVSRCNPI'
        | 'ESME_RINVDSTTON'
        | 'ESME_RINVDSTNPI'
        | 'ESME_RINVSYSTYP'
        | 'ESME_RINVREPFLAG'
        | 'ESME_RINVNUMMSGS'
        | 'ESME_RTHROTTLED'
        | 'ESME_RINVSCHED'
        | 'ESME_RINVEXPIRY'
        | 'ESME_RINVDFTMSGID'
        | 'ESME_RX_T_APPN'
        | 'ESME_RX_P_APPN'
        | 'ESME_RX_R_APPN'
        | 'ESME_RQUERYFAIL'
        | 'ESME_RINVTLVSTREAM'
        | 'ESME_RTLVNOTALLWD'
        | 'ESME_RINVTLVLEN'
        | 'ESME_RMISSINGTLV'
        | 'ESME_RINVTLVVAL'
        | 'ESME_RDELIVERYFAILURE'
        | 'ESME_RUNKNOWNERR',
        number
      >
    >;

    /** `smpp://host:port`, `ssmpp://host:port` (TLS) or options; a fresh socket per call */
    function connect(url: string | ConnectOptions, listener?: () => void): Session;
    function createSession(url: string | ConnectOptions, listener?: () => void): Session;
    function createServer(options?: ServerOptions, listener?: (session: Session) => void): Server;
    function createServer(listener: (session: Session) => void): Server;
    function addCommand(command: string, options: Omit<CommandDef, 'command'>): void;
    function addTLV(tag: string, options: Omit<TlvDef, 'tag'>): void;
    const PDU: PduConstructor;
    /** Mutable at runtime: src/smpp/raw-pdu.ts swaps some filters. */
    const commands: { readonly [K in CommandName]: CommandDef };
    const commandsById: Readonly<Record<number, CommandDef | undefined>>;
    const tlvs: { readonly [K in keyof Tlvs]-?: TlvDef } & Readonly<Record<string, TlvDef | undefined>>;
    const tlvsById: Readonly<Record<number, TlvDef | undefined>>;
    const filters: Readonly<Record<'time' | 'message', FilterDef>>;
    const types: Readonly<Record<'int8' | 'int16' | 'int32' | 'string' | 'cstring' | 'buffer', TypeDef>> & {
      tlv: Readonly<Record<'int8' | 'int16' | 'int32' | 'string' | 'cstring' | 'buffer', TypeDef>>;
    };
    const consts: Consts;
    const errors: Errors;
  }

  // Node gives ESM importers module.exports as the default export.
  export default smpp;
}
