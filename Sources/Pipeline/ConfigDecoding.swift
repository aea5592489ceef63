import Foundation
import MorphoCore
import CYaml
import Yams

/// Typed config sections from YAML: a section's keys (snake_case) override the defaults of a `Codable`
/// config; unknown keys, null values and wrong types are errors naming the key and its line.
enum ConfigDecoding {
    /// `section` decoded onto `defaults`. `path` names the section in errors (`stages.segmentation`).
    static func decode<C: Codable>(_ defaults: C, from node: Node?, path: String, file: String) throws -> C {
        let base = try jsonObject(defaults)
        var lines = [String: Int]()
        let merged = try merge(base, node, path: path, file: file, lines: &lines)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let value: C
        do {
            value = try decoder.decode(C.self, from: try JSONSerialization.data(withJSONObject: merged))
        } catch let error as DecodingError {
            throw describe(error, path: path, file: file, lines: lines)
        }
        // Keys the config does not have are dropped by decoding: find them by encoding the result back.
        var known = try jsonObject(value)
        for key in optionalKeys(of: value) where known[key] == nil { known[key] = NSNull() }
        try checkKnown(node, known: known, defaults: base, path: path, file: file)
        return value
    }

    /// The snake_case JSON object of a config.
    static func jsonObject<C: Encodable>(_ value: C) throws -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return (try JSONSerialization.jsonObject(with: try encoder.encode(value)) as? [String: Any]) ?? [:]
    }

    /// The snake_case names of a config's stored properties, found by reflection: optional settings
    /// that are nil by default are left out of the encoding but are still keys.
    static func optionalKeys(of value: Any) -> [String] {
        if let flat = value as? FlattenedConfig { return flat.parts.flatMap(optionalKeys) }
        return Mirror(reflecting: value).children.compactMap { $0.label.map(snake) }
    }

    /// Pipeline files may not use YAML anchors and aliases: a few hundred bytes of nested aliases
    /// expand to gigabytes ("billion laughs"), and composing such a file already expands them. So the
    /// text is first read as libyaml events (constant memory), refusing the first anchor or alias.
    static func refuseAnchors(in text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            while true {
                var event = yaml_event_t()
                // A syntax error ends the scan; composing the text reports it with its position.
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                let anchor: UnsafeMutablePointer<yaml_char_t>?
                switch event.type {
                case YAML_STREAM_END_EVENT: return
                case YAML_ALIAS_EVENT: anchor = event.data.alias.anchor
                case YAML_SCALAR_EVENT: anchor = event.data.scalar.anchor
                case YAML_SEQUENCE_START_EVENT: anchor = event.data.sequence_start.anchor
                case YAML_MAPPING_START_EVENT: anchor = event.data.mapping_start.anchor
                default: anchor = nil
                }
                if let anchor {
                    let name = String(cString: anchor)
                    throw MorphoError.config(key: file, problem: "line \(event.start_mark.line + 1): YAML anchors and aliases (&\(name), *\(name)) are not supported in pipeline files; write the values out")
                }
            }
        }
    }

    static func line(_ node: Node) -> String { node.mark.map { "line \($0.line)" } ?? "line ?" }

    static func merge(_ base: [String: Any], _ node: Node?, path: String, file: String, lines: inout [String: Int]) throws -> [String: Any] {
        guard let node else { return base }
        guard case .mapping(let mapping) = node else {
            if node.null != nil { return base }
            throw MorphoError.config(key: path, problem: "\(file) \(line(node)): expected a mapping of settings")
        }
        var out = base
        for (k, v) in mapping {
            guard let key = k.string else { throw MorphoError.config(key: path, problem: "\(file) \(line(k)): keys must be strings") }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            lines[keyPath] = v.mark?.line ?? k.mark?.line
            if v.null != nil, case .scalar = v {
                throw MorphoError.config(key: keyPath, problem: "\(file) \(line(k)): no value (give one or remove the key)")
            }
            if let nested = base[key] as? [String: Any], case .mapping = v {
                out[key] = try merge(nested, v, path: keyPath, file: file, lines: &lines)
            } else {
                out[key] = try plain(v, path: keyPath, file: file)
            }
        }
        return out
    }

    /// A YAML node as a JSON-compatible value, scalars typed by the YAML core schema.
    static func plain(_ node: Node, path: String, file: String) throws -> Any {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain || scalar.style == .any {
                switch node.tag.rawValue {
                case Tag.Name.bool.rawValue: if let b = node.bool { return b }
                case Tag.Name.int.rawValue: if let i = node.int { return i }
                case Tag.Name.float.rawValue: if let f = node.float, f.isFinite { return f }
                default: break
                }
            }
            return scalar.string
        case .sequence(let sequence):
            return try sequence.map { try plain($0, path: path, file: file) }
        case .mapping(let mapping):
            var out = [String: Any]()
            for (k, v) in mapping { out[k.string ?? ""] = try plain(v, path: "\(path).\(k.string ?? "")", file: file) }
            return out
        case .alias:
            throw MorphoError.config(key: path, problem: "\(file) \(line(node)): aliases are not supported")
        }
    }

    static func checkKnown(_ node: Node?, known: [String: Any], defaults: [String: Any], path: String, file: String) throws {
        guard let node, case .mapping(let mapping) = node else { return }
        for (k, v) in mapping {
            let key = k.string ?? ""
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard known[key] != nil || defaults[key] != nil else {
                let names = Set(known.keys).union(defaults.keys).sorted().joined(separator: ", ")
                throw MorphoError.config(key: keyPath, problem: "\(file) \(line(k)): unknown key '\(key)' (known: \(names))")
            }
            if let nested = known[key] as? [String: Any], case .mapping = v {
                try checkKnown(v, known: nested, defaults: defaults[key] as? [String: Any] ?? [:], path: keyPath, file: file)
            }
        }
    }

    static func snake(_ key: String) -> String {
        var out = ""
        for c in key {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    static func describe(_ error: DecodingError, path: String, file: String, lines: [String: Int]) -> MorphoError {
        func where_(_ codingPath: [CodingKey]) -> (String, String) {
            let keyPath = ([path] + codingPath.filter { $0.intValue == nil }.map { snake($0.stringValue) }).filter { !$0.isEmpty }.joined(separator: ".")
            var probe = keyPath
            while !probe.isEmpty, lines[probe] == nil { probe = probe.contains(".") ? String(probe[..<probe.lastIndex(of: ".")!]) : "" }
            return (keyPath, lines[probe].map { "line \($0)" } ?? "line ?")
        }
        switch error {
        case .typeMismatch(let type, let context):
            let (key, at) = where_(context.codingPath)
            return .config(key: key, problem: "\(file) \(at): expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            let (key, at) = where_(context.codingPath)
            return .config(key: key, problem: "\(file) \(at): expected \(typeName(type))")
        case .keyNotFound(let missing, let context):
            let (key, at) = where_(context.codingPath + [missing])
            return .config(key: key, problem: "\(file) \(at): missing")
        case .dataCorrupted(let context):
            let (key, at) = where_(context.codingPath)
            return .config(key: key, problem: "\(file) \(at): invalid value (\(context.debugDescription))")
        @unknown default:
            return .config(key: path, problem: "\(file): \(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type, is Int32.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let name = String(describing: type)
            return name.hasPrefix("Array") ? "a list" : name.hasPrefix("Dictionary") ? "a mapping" : name
        }
    }
}
