import Foundation
import Yams

/// A JSON value with its kind kept (true stays a boolean, 4 an integer), for printing configs as YAML.
public indirect enum JSONValue: Codable, Sendable {
    case bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue]), null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    public init(json: Data) throws { self = try JSONDecoder().decode(JSONValue.self, from: json) }

    /// As a YAML node (mapping keys sorted).
    public var node: Node {
        switch self {
        case .bool(let b): Node(b ? "true" : "false", Tag(.bool))
        case .int(let i): Node(String(i), Tag(.int))
        case .double(let d): Node(d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)", Tag(.float))
        case .string(let s): Node(s, Tag(.str))
        case .array(let a): Node(a.map(\.node))
        case .object(let o): Node(o.keys.sorted().map { (Node($0), o[$0]!.node) })
        case .null: Node("null", Tag(.null))
        }
    }
}
