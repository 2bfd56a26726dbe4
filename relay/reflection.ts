// gRPC server reflection (`grpc.reflection.v1.ServerReflection`) over protobuf-es
// descriptors, so `buf curl --list-services` and calls without `--schema` work against the
// relay on Connect, gRPC and gRPC-Web.
//
// Owns: the symbol and file indexes built from the services registered on the router, and
// the answers to list_services, file_by_filename, file_containing_symbol,
// file_containing_extension and all_extension_numbers_of_type. Does not own which services
// exist (relay/server.ts passes the router's services in).

import { create, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import {
  ServerReflection,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../gen/grpc/reflection/v1/reflection_pb.js";

/** The fully-qualified name of the reflection service, as registered and listed. */
export const REFLECTION_SERVICE_NAME = ServerReflection.typeName;

/**
 * Most requests answered on one reflection stream. buf curl needs a handful; a client that
 * sends thousands is misbehaving, and the stream is ended so it cannot pin the server.
 */
export const MAX_REFLECTION_REQUESTS_PER_STREAM = 1000;

/** What the reflection service knows: files by name and the file defining each symbol. */
export interface ReflectionIndex {
  /** Fully-qualified service names, sorted. */
  readonly serviceNames: readonly string[];
  /** Files by their proto path, e.g. "securecomm/relay/v1/keys.proto". */
  readonly files: ReadonlyMap<string, DescFile>;
  /** The file defining each fully-qualified symbol (services, methods, messages, enums, extensions). */
  readonly symbols: ReadonlyMap<string, DescFile>;
  /** Fully-qualified message names (for all_extension_numbers_of_type). */
  readonly messages: ReadonlySet<string>;
}

/**
 * Builds the reflection index for a set of services: their files and every file those
 * depend on, transitively (gRPC reflection protocol, "file_containing_symbol").
 */
export function buildReflectionIndex(services: Iterable<DescService>): ReflectionIndex {
  const serviceNames = new Set<string>();
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const messages = new Set<string>();
  const addFile = (file: DescFile): void => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const type of nestedTypes(file)) {
      symbols.set(type.typeName, file);
      if (type.kind === "message") messages.add(type.typeName);
      if (type.kind === "service") {
        for (const method of type.methods) symbols.set(`${type.typeName}.${method.name}`, file);
      }
    }
    for (const dep of file.dependencies) addFile(dep);
  };
  for (const service of services) {
    serviceNames.add(service.typeName);
    addFile(service.file);
  }
  return { serviceNames: [...serviceNames].sort(), files, symbols, messages };
}

/** Serializes a file and its transitive dependencies, the file itself first. */
function fileWithDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (f: DescFile): void => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    for (const dep of f.dependencies) visit(dep);
  };
  visit(file);
  return out;
}

/**
 * Answers one reflection request from an index (gRPC reflection protocol v1). Unknown
 * names are answered in-stream with an ErrorResponse carrying NOT_FOUND, as the protocol
 * requires; the error message never echoes the requested name.
 */
export function answerReflectionRequest(
  index: ReflectionIndex,
  request: ServerReflectionRequest,
): ServerReflectionResponse {
  const base = { validHost: request.host, originalRequest: request };
  const notFound = (what: string): ServerReflectionResponse =>
    create(ServerReflectionResponseSchema, {
      ...base,
      messageResponse: {
        case: "errorResponse",
        value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
      },
    });
  const files = (file: DescFile | undefined, what: string): ServerReflectionResponse =>
    file === undefined
      ? notFound(what)
      : create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "fileDescriptorResponse",
            value: { fileDescriptorProto: fileWithDependencies(file) },
          },
        });

  const req = request.messageRequest;
  switch (req.case) {
    case "listServices":
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "listServicesResponse",
          value: { service: index.serviceNames.map((name) => ({ name })) },
        },
      });
    case "fileByFilename":
      return files(index.files.get(req.value), "file");
    case "fileContainingSymbol":
      return files(index.symbols.get(req.value.replace(/^\./, "")), "symbol");
    case "fileContainingExtension":
      // No schema served here declares extensions.
      return notFound("extension");
    case "allExtensionNumbersOfType": {
      const name = req.value.replace(/^\./, "");
      if (!index.messages.has(name)) return notFound("type");
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: name, extensionNumber: [] },
        },
      });
    }
    default:
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" },
        },
      });
  }
}

/**
 * Registers `grpc.reflection.v1.ServerReflection` on a router (spec/10-relay-api.md API-25). `services()` is read when a
 * stream opens, so it sees every service registered on the router, including this one.
 */
export function registerReflection(
  router: ConnectRouter,
  services: () => Iterable<DescService>,
): void {
  let cached: ReflectionIndex | undefined;
  const index = (): ReflectionIndex => (cached ??= buildReflectionIndex(services()));
  router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      let answered = 0;
      for await (const request of requests) {
        if (++answered > MAX_REFLECTION_REQUESTS_PER_STREAM) return;
        yield answerReflectionRequest(index(), request);
      }
    },
  });
}
