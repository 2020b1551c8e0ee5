import Hashing
import Support
import Testing
import TestSupport

@testable import Batch

/// `JSONDiff`: RFC 6902 operations, JSON Pointer escaping, keyed arrays, volatile filtering.
@Suite struct DiffJSONTests {
    /// Every patch must turn A into B when nothing volatile is ignored.
    func roundTrip(_ a: JSONValue, _ b: JSONValue, _ options: JSONDiffOptions = JSONDiffOptions(ignoreVolatile: false)) throws -> [JSONPatchOperation] {
        let ops = JSONDiff.diff(a, b, options: options)
        #expect(try JSONPatchApplier.apply(ops, to: a) == b)
        return ops
    }

    @Test func identicalDocumentsHaveNoOperations() throws {
        let doc: JSONValue = ["a": [1, 2, ["b": nil]], "c": "x", "d": true]
        #expect(try roundTrip(doc, doc).isEmpty)
    }

    @Test func memberChangesAreReplaceAddRemove() throws {
        let ops = try roundTrip(["email": "a@x", "old": 1, "same": "s"], ["email": "b@x", "new": [1], "same": "s"])
        #expect(ops.map(\.json) == [
            ["op": "replace", "path": "/email", "value": "b@x"],
            ["op": "add", "path": "/new", "value": [1]],
            ["op": "remove", "path": "/old"],
        ])
        #expect(ops[0].oldValue == "a@x")
        #expect(ops[2].oldValue == 1)
    }

    @Test func typeChangeIsOneReplace() throws {
        let ops = try roundTrip(["v": ["x": 1]], ["v": [1]])
        #expect(ops.map(\.json) == [["op": "replace", "path": "/v", "value": [1]]])
    }

    @Test func pointerTokensAreEscaped() throws {
        let ops = try roundTrip(["a/b": 1, "m~n": ["~/": 1]], ["a/b": 2, "m~n": ["~/": 2]])
        #expect(ops.map(\.path) == ["/a~1b", "/m~0n/~0~1"])
        #expect(JSONPointer.tokens("/a~1b/m~0n/~01") == ["a/b", "m~n", "~1"])
        #expect(JSONPointer.escape("~1") == "~01")
        #expect(JSONPointer.tokens("") == [])
        #expect(JSONPointer.tokens("a") == nil)
    }

    @Test func positionalArraysAppendAndTruncate() throws {
        #expect(try roundTrip([1, 2, 3], [1, 5, 3, 4, 6]).map(\.json) == [
            ["op": "replace", "path": "/1", "value": 5],
            ["op": "add", "path": "/3", "value": 4],
            ["op": "add", "path": "/4", "value": 6],
        ])
        #expect(try roundTrip([1, 2, 3, 4], [1]).map(\.json) == [
            ["op": "remove", "path": "/3"], ["op": "remove", "path": "/2"], ["op": "remove", "path": "/1"],
        ])
    }

    @Test func arraysOfRecordsAreMatchedByID() throws {
        let a: JSONValue = ["value": [
            ["id": "1", "name": "one"], ["id": "2", "name": "two"], ["id": "3", "name": "three"],
        ]]
        // 2 removed, 3 changed and moved to the front, 4 added.
        let b: JSONValue = ["value": [
            ["id": "3", "name": "THREE"], ["id": "1", "name": "one"], ["id": "4", "name": "four"],
        ]]
        let ops = try roundTrip(a, b)
        #expect(ops.map(\.json) == [
            ["op": "remove", "path": "/value/1"],
            ["op": "move", "from": "/value/1", "path": "/value/0"],
            ["op": "replace", "path": "/value/0/name", "value": "THREE"],
            ["op": "add", "path": "/value/2", "value": ["id": "4", "name": "four"]],
        ])
    }

    @Test func numberKeyIsUsedWhenIDsDoNotMatch() throws {
        // Re-created records: new ids, same numbers. Matched by number, the only change is email.
        let a: JSONValue = [["id": "a1", "number": "C1", "email": "x"], ["id": "a2", "number": "C2", "email": "y"]]
        let b: JSONValue = [["id": "b2", "number": "C2", "email": "y"], ["id": "b1", "number": "C1", "email": "z"]]
        let ops = JSONDiff.diff(a, b)  // volatile ids ignored
        #expect(ops.map(\.json) == [
            ["op": "move", "from": "/1", "path": "/0"],
            ["op": "replace", "path": "/1/email", "value": "z"],
        ])
        // With volatile fields included, the patch still applies exactly.
        _ = try roundTrip(a, b)
    }

    @Test func arraysWithoutACommonKeyArePositional() throws {
        let a: JSONValue = [["id": "1", "n": 1], ["n": 2]]
        let b: JSONValue = [["n": 2], ["id": "1", "n": 1]]
        let ops = try roundTrip(a, b)
        #expect(!ops.contains { $0.op == .move })
        // Duplicate keys also fall back to positions.
        _ = try roundTrip([["id": "1"], ["id": "1", "x": 1]], [["id": "1", "x": 1], ["id": "1"]])
    }

    @Test func numbersAreKeysToo() throws {
        let ops = try roundTrip([["number": 1, "v": "a"], ["number": 2, "v": "b"]], [["number": 2, "v": "b"], ["number": 1, "v": "c"]])
        #expect(ops.first?.op == .move)
    }

    @Test func optionalBodies() {
        #expect(JSONDiff.diff(nil as JSONValue?, nil as JSONValue?).isEmpty)
        #expect(JSONDiff.diff(nil as JSONValue?, ["a": 1] as JSONValue?).map(\.json) == [["op": "add", "path": "", "value": ["a": 1]]])
        #expect(JSONDiff.diff(["a": 1] as JSONValue?, nil as JSONValue?).map(\.json) == [["op": "remove", "path": ""]])
    }

    @Test func randomDocumentsRoundTrip() throws {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<300 {
            let a = randomValue(&rng, depth: 3)
            let b = rng.next() % 4 == 0 ? a : randomValue(&rng, depth: 3)
            _ = try roundTrip(a, b)
        }
    }

    func randomValue(_ rng: inout SeededGenerator, depth: Int) -> JSONValue {
        switch depth == 0 ? rng.next() % 4 : rng.next() % 7 {
        case 0: return .number(Double(rng.next() % 5))
        case 1: return .string(["a", "b", "c/d", "e~f"][Int(rng.next() % 4)])
        case 2: return .bool(rng.next() % 2 == 0)
        case 3: return .null
        case 4, 5:
            // Records with unique ids (keyed), sometimes.
            let n = Int(rng.next() % 5)
            let keyed = rng.next() % 2 == 0
            var ids = Array(0..<6).shuffled(using: &rng)
            return .array((0..<n).map { _ in
                if keyed { return ["id": .number(Double(ids.removeLast())), "v": randomValue(&rng, depth: depth - 1)] }
                return randomValue(&rng, depth: depth - 1)
            })
        default:
            var o: [String: JSONValue] = [:]
            for _ in 0..<Int(rng.next() % 4) { o[["x", "y", "a/b", "~"][Int(rng.next() % 4)]] = randomValue(&rng, depth: depth - 1) }
            return .object(o)
        }
    }
}
