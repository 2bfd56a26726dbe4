import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
  type ServerReflectionRequest,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import { AccountService } from "../gen/securecomm/relay/v1/account_pb.js";
import { KeyService } from "../gen/securecomm/relay/v1/keys_pb.js";
import { MessageService } from "../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../gen/securecomm/relay/v1/relay_info_pb.js";
import { RoomService } from "../gen/securecomm/relay/v1/rooms_pb.js";
import { answerReflectionRequest, buildReflectionIndex } from "./reflection.js";

const services = [AccountService, KeyService, MessageService, RelayInfoService, RoomService, Health, ServerReflection];
const index = buildReflectionIndex(services);

const ask = (messageRequest: ServerReflectionRequest["messageRequest"]) =>
  answerReflectionRequest(index, create(ServerReflectionRequestSchema, { host: "h", messageRequest }));

const filesOf = (response: ReturnType<typeof ask>) => {
  if (response.messageResponse.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${String(response.messageResponse.case)}`);
  }
  return response.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
};

describe("API-25 gRPC reflection", () => {
  it("lists every registered service, sorted", () => {
    const response = ask({ case: "listServices", value: "" });
    expect(response.messageResponse.case).toBe("listServicesResponse");
    const names =
      response.messageResponse.case === "listServicesResponse"
        ? response.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names).toEqual(services.map((s) => s.typeName).sort());
    expect(response.validHost).toBe("h");
  });

  it("answers file_containing_symbol for services, methods, messages and enums, with dependencies", () => {
    for (const symbol of [
      "securecomm.relay.v1.RoomService",
      "securecomm.relay.v1.RoomService.PostToRoom",
      ".securecomm.relay.v1.RoomEvent",
      "securecomm.relay.v1.RoomClosedReason",
      "grpc.health.v1.HealthCheckResponse.ServingStatus",
    ]) {
      const files = filesOf(ask({ case: "fileContainingSymbol", value: symbol }));
      expect(files.length).toBeGreaterThan(0);
      // The set must be self-contained: a registry builds from it (dependencies first) and
      // resolves the symbol.
      const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...files].reverse() }));
      const name = symbol.replace(/^\./, "");
      const parent = name.slice(0, name.lastIndexOf("."));
      const method = registry.getService(parent)?.methods.find((m) => `${parent}.${m.name}` === name);
      expect(registry.get(name) ?? method).toBeDefined();
    }
    // rooms.proto imports messages.proto (RoomEvent): the dependency comes along.
    const names = filesOf(ask({ case: "fileContainingSymbol", value: "securecomm.relay.v1.RoomService" })).map(
      (f) => f.name,
    );
    expect(names).toEqual(["securecomm/relay/v1/rooms.proto", "securecomm/relay/v1/messages.proto"]);
  });

  it("answers file_by_filename", () => {
    const files = filesOf(ask({ case: "fileByFilename", value: "securecomm/relay/v1/keys.proto" }));
    expect(files[0]?.name).toBe("securecomm/relay/v1/keys.proto");
    expect(files[0]?.service.map((s) => s.name)).toEqual(["KeyService"]);
  });

  it("answers unknown names with NOT_FOUND in-stream, without echoing them", () => {
    for (const request of [
      { case: "fileContainingSymbol", value: "nope.Secret" },
      { case: "fileByFilename", value: "nope/secret.proto" },
      { case: "allExtensionNumbersOfType", value: "nope.Secret" },
      { case: "fileContainingExtension", value: { containingType: "nope.Secret", extensionNumber: 5 } },
    ] as const) {
      const response = ask(request as ServerReflectionRequest["messageRequest"]);
      expect(response.messageResponse.case).toBe("errorResponse");
      if (response.messageResponse.case !== "errorResponse") continue;
      expect(response.messageResponse.value.errorCode).toBe(Code.NotFound);
      expect(response.messageResponse.value.errorMessage).not.toContain("Secret");
    }
  });

  it("reports no extensions for known messages and rejects empty requests", () => {
    const response = ask({ case: "allExtensionNumbersOfType", value: "securecomm.relay.v1.RoomEvent" });
    expect(response.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "securecomm.relay.v1.RoomEvent", extensionNumber: [] },
    });
    const empty = ask({ case: undefined });
    expect(empty.messageResponse.case).toBe("errorResponse");
  });

  it("answers arbitrary symbol and file names with a response, never an exception", () => {
    fc.assert(
      fc.property(fc.string(), fc.boolean(), (name, bySymbol) => {
        const response = ask(bySymbol ? { case: "fileContainingSymbol", value: name } : { case: "fileByFilename", value: name });
        expect(["fileDescriptorResponse", "errorResponse"]).toContain(response.messageResponse.case);
      }),
    );
  });
});
