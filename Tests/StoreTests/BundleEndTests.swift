import Foundation
import Testing
import TestSupport
import Hashing
@testable import Store

/// A bundle ends exactly at the tar end-of-archive marker (two zero blocks).
/// Padding after it (even one zero byte) and a bundle cut short are refused by `BundleTar.read`,
/// by `verify --bundle` (`RunBundle.verify`) and by `import` (`Importer`), which writes nothing.
@Suite struct BundleEndTests {
    enum Change: CustomStringConvertible, CaseIterable {
        case plusOneZero, plus512Zeros, plus1024Zeros, cutBy512, cutBy1

        func apply(_ bytes: [UInt8]) -> [UInt8] {
            switch self {
            case .plusOneZero: return bytes + [0]
            case .plus512Zeros: return bytes + [UInt8](repeating: 0, count: 512)
            case .plus1024Zeros: return bytes + [UInt8](repeating: 0, count: 1024)
            case .cutBy512: return Array(bytes.dropLast(512))
            case .cutBy1: return Array(bytes.dropLast(1))
            }
        }

        var description: String {
            switch self {
            case .plusOneZero: return "+1 zero byte"
            case .plus512Zeros: return "+512 zero bytes"
            case .plus1024Zeros: return "+1024 zero bytes"
            case .cutBy512: return "cut by 512 bytes"
            case .cutBy1: return "cut by 1 byte"
            }
        }
    }

    @Test("the tar reader refuses anything but an exact end", arguments: Change.allCases)
    func tarReader(_ change: Change) throws {
        let good = BundleTar.write([.init(name: "a.json", bytes: bytes("{\"a\":1}")), .init(name: "b", bytes: [1, 2, 3])])
        #expect(try BundleTar.read(good).count == 2)
        let bad = change.apply(good)
        do {
            _ = try BundleTar.read(bad)
            Issue.record("\(change): accepted")
        } catch {
            switch (change, error) {
            case (.plusOneZero, .afterEnd(let o, let n)), (.plus512Zeros, .afterEnd(let o, let n)), (.plus1024Zeros, .afterEnd(let o, let n)):
                #expect(o == good.count, "\(change): \(error)")
                #expect(n == bad.count - good.count, "\(change): \(error)")
                #expect(error.description.contains("after the end of the archive"), "\(error)")
            case (.cutBy512, .missingEnd(let o)), (.cutBy1, .missingEnd(let o)):
                #expect(o == good.count - 1024, "\(change): \(error)")
                #expect(error.description.contains("end-of-archive"), "\(error)")
            default:
                Issue.record("\(change): unexpected \(error)")
            }
        }
    }

    @Test("verify --bundle and import refuse it", arguments: Change.allCases)
    func verifyAndImport(_ change: Change) throws {
        let dir = TempDir()
        let source = try makeStore(dir)
        let (first, _) = try StoreVerifyTests.twoRuns(source)
        let good = try RunBundle.export(runID: first, from: source)
        #expect(try RunBundle.verify(bytes: good).report.isOK)
        let bad = change.apply(good)
        let (report, bundle) = try RunBundle.verify(bytes: bad)
        #expect(!report.isOK, "\(change) verified")
        #expect(bundle?.runID == nil)
        #expect(report.problems.first?.kind == .bundle)
        #expect(report.problems.first?.subject == "archive")

        let path = dir.path + "/bad.tar"
        try RunBundle.write(bad, to: path)
        let target = try LedgerStore(root: dir.path + "/target")
        let refused = expectDamagedBundle { _ = try Importer.importBundle(fileAt: path, into: target) }
        #expect(refused?.problems.first?.kind == .bundle)
        #expect(refused?.problems.first?.subject == "archive")
        #expect(try target.runs().isEmpty)
    }

    @Test("a member nested 200,000 deep is a finding naming the limit, not a crash")
    func deeplyNestedMember() throws {
        let dir = TempDir()
        let source = try makeStore(dir)
        let (first, _) = try StoreVerifyTests.twoRuns(source)
        var entries = try BundleTar.read(try RunBundle.export(runID: first, from: source))
        let i = try #require(entries.firstIndex { $0.name == RunBundle.runName })
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        entries[i] = .init(name: RunBundle.runName, bytes: bytes(deep))
        let (report, bundle) = try RunBundle.verify(bytes: BundleTar.write(entries))
        #expect(bundle?.runID == nil)
        let problem = try #require(report.problems.first)
        #expect(problem.subject == RunBundle.runName)
        #expect(problem.detail.contains("nesting deeper than 512"), "\(problem.detail)")
        #expect(problem.detail.contains("line 1, column 513"), "\(problem.detail)")
    }
}
