import Hashing
import Testing
import TestSupport

@testable import Batch

/// JSON Patch pointers are bounded like the documents they point into.
@Suite struct PatchPointerDepthTests {
    @Test("a pointer 200,000 levels deep is a failure naming the limit")
    func deepPointer() {
        let path = String(repeating: "/a", count: 200_000)
        let tokens = JSONPointer.tokens(path)
        #expect(tokens?.count == 200_000)
        // The deepest document the parser accepts, so the walk could follow the path all the way.
        let n = JSONValue.maximumNestingDepth
        let doc = try! JSONValue(parsing: String(repeating: "{\"a\":", count: n) + "1" + String(repeating: "}", count: n))
        for op in [JSONPatchOperation(op: .replace, path: path, value: 2), JSONPatchOperation(op: .move, path: "/a", from: path)] {
            do {
                _ = try JSONPatchApplier.apply([op], to: doc)
                Issue.record("applied")
            } catch {
                #expect(error.description.contains("deeper than \(JSONPointer.maximumDepth) levels"), "\(error)")
            }
        }
    }

    @Test("a pointer at the limit still applies")
    func atTheLimit() throws {
        let n = JSONValue.maximumNestingDepth
        let doc = try JSONValue(parsing: String(repeating: "{\"a\":", count: n) + "1" + String(repeating: "}", count: n))
        let path = String(repeating: "/a", count: n)
        let patched = try JSONPatchApplier.apply([JSONPatchOperation(op: .replace, path: path, value: 2)], to: doc)
        var v = patched
        for _ in 0..<n { v = v["a"]! }
        #expect(v == 2)
    }
}
