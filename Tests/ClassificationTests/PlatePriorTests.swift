import Foundation
import MorphoCore
import Testing
@testable import Classification

@Suite struct LinearAssignmentTests {
    @Test func matchesBruteForceOnRandomMatrices() {
        var rng = SeededGenerator(seed: 11)
        for trial in 0..<400 {
            let rows = Int.random(in: 1...6, using: &rng), cols = Int.random(in: rows...7, using: &rng)
            // Integer scores make ties common, which is where the bookkeeping breaks when it is wrong.
            let scores = (0..<(rows * cols)).map { _ in trial % 2 == 0 ? Double(Int.random(in: 0...4, using: &rng)) : Double.random(in: -3...3, using: &rng) }
            let fast = LinearAssignment.maximize(scores, rows: rows, cols: cols)
            let brute = LinearAssignment.bruteForce(scores, rows: rows, cols: cols)
            #expect(Set(fast).count == rows && fast.allSatisfy { (0..<cols).contains($0) })
            let total = fast.enumerated().reduce(0.0) { $0 + scores[$1.offset * cols + $1.element] }
            #expect(abs(total - brute.total) < 1e-9, "trial \(trial): \(rows)x\(cols) \(scores) -> \(fast) \(total) vs \(brute)")
        }
    }

    @Test func impossibleCellsAreAvoided() {
        // -inf forbids a pair. Greedy picks (0,0)=5 and (1,2)=9 but then row 2 has nothing left; the only
        // full assignment avoiding forbidden pairs is rows -> columns 2, 1, 0.
        let x = -Double.infinity
        let scores: [Double] = [5, x, 1,
                                x, 1, 9,
                                1, x, x]
        #expect(LinearAssignment.maximize(scores, rows: 3, cols: 3) == [2, 1, 0])
    }
}

@Suite struct PlatePriorTests {
    /// A plate of `classes` wells, well i of true class perm[i], with noisy probabilities: the true class
    /// gets a boost `signal`, every class a bias shared by the plate's wells (the plate effect that makes
    /// a classifier over-predict some classes) and each well its own noise, so plain argmax is often wrong.
    static func noisyPlate(classes: Int, signal: Double, rng: inout SeededGenerator) -> (truth: [Int], probabilities: [[Double]]) {
        let truth = Array(0..<classes).shuffled(using: &rng)
        let bias = (0..<classes).map { _ in Double.random(in: 0...2.5, using: &rng) }
        let probabilities = truth.map { t -> [Double] in
            var logits = (0..<classes).map { bias[$0] + Double.random(in: 0...1.5, using: &rng) }
            logits[t] += signal
            let m = logits.max()!
            let e = logits.map { Foundation.exp($0 - m) }
            let z = e.reduce(0, +)
            return e.map { $0 / z }
        }
        return (truth, probabilities)
    }

    static func accuracy(_ p: [Int], _ t: [Int]) -> Double { Double(zip(p, t).filter { $0 == $1 }.count) / Double(t.count) }

    @Test func assignmentAndRebalancingBeatArgmax() {
        var rng = SeededGenerator(seed: 5)
        var plain = 0.0, balanced = 0.0, assigned = 0.0
        for _ in 0..<20 {
            let (truth, p) = Self.noisyPlate(classes: 40, signal: 1.6, rng: &rng)
            plain += Self.accuracy(PlatePrior.argmax(p), truth)
            let r = PlatePrior.rebalance(p)
            balanced += Self.accuracy(r, truth)
            let a = PlatePrior.assign(p)
            #expect(Set(a).count == 40)  // each class exactly once
            assigned += Self.accuracy(a, truth)
            #expect(PlatePrior.excess(r) <= PlatePrior.excess(PlatePrior.argmax(p)))
        }
        print("plate prior on 20 noisy 40-class plates: argmax \(plain / 20), rebalanced \(balanced / 20), assigned \(assigned / 20)")
        #expect(balanced / 20 > plain / 20 + 0.1)
        #expect(assigned / 20 > plain / 20 + 0.1)
    }

    @Test func assignmentWithinAGroupIsTheBestJointLabelling() {
        var rng = SeededGenerator(seed: 9)
        let (_, p) = Self.noisyPlate(classes: 6, signal: 0.5, rng: &rng)
        let allowed = [0, 2, 3, 4, 5, 1]
        let a = PlatePrior.assign(p, allowed: allowed)
        let logs = p.flatMap { row in allowed.map { Foundation.log(row[$0]) } }
        let brute = LinearAssignment.bruteForce(logs, rows: 6, cols: 6)
        #expect(a == brute.assignment.map { allowed[$0] })
    }

    @Test func groupInferenceFindsThePlatesGroup() {
        var rng = SeededGenerator(seed: 2)
        // 3 groups of 10 classes; a plate of group 1 holds classes 10..<20.
        let groups = (0..<3).map { g in Array((g * 10)..<(g * 10 + 10)) }
        let rows = (10..<20).map { t -> [Double] in
            var logits = (0..<30).map { _ in Double.random(in: 0...1, using: &rng) * 3 }
            logits[t] += 1.0
            let e = logits.map { Foundation.exp($0) }
            let z = e.reduce(0, +)
            return e.map { $0 / z }
        }
        #expect(PlatePrior.inferGroup(rows, groups: groups) == 1)
    }

    @Test func rebalancingStopsWhenEveryClassIsUsedOnce() {
        // Two wells both prefer class 0; the second prefers class 1 almost as much: one step moves it.
        let p: [[Double]] = [[0.9, 0.1], [0.51, 0.49]]
        #expect(PlatePrior.rebalance(p) == [0, 1])
    }
}
