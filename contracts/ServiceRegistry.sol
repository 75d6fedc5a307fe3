// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ServiceRegistry
/// @notice Where AI serving providers announce their services: an OpenAI-compatible endpoint, the
///         model it serves and its prices in wei per token. A service is keyed by its provider
///         (the caller) and a name, so a provider edits only its own entries.
contract ServiceRegistry {
    struct Service {
        string name;
        /// What the endpoint speaks, e.g. "chat".
        string serviceType;
        /// Base URL; the OpenAI base is url + "/v1".
        string url;
        string model;
        uint256 inputPricePerToken;
        uint256 outputPricePerToken;
        /// How responses can be checked, e.g. "signed-response".
        string verifiability;
    }

    struct ServiceRecord {
        address provider;
        string name;
        string serviceType;
        string url;
        string model;
        uint256 inputPricePerToken;
        uint256 outputPricePerToken;
        string verifiability;
        uint256 updatedAt;
    }

    /// Bounds each string so that a listing stays cheap to read for every client.
    uint256 internal constant MAX_FIELD_BYTES = 256;

    error UnknownService(address provider, string name);
    error EmptyField(string field);
    error FieldTooLong(string field);

    /// @notice Emitted on every registration and every update (the record is replaced whole).
    event ServiceRegistered(address indexed provider, string name, Service service);
    event ServiceRemoved(address indexed provider, string name);

    mapping(bytes32 key => ServiceRecord) private _records;
    // Live keys, removed by swap-and-pop with a stored position (index + 1, so 0 means absent):
    // `services()` stays proportional to what it returns, not to every service ever registered.
    bytes32[] private _keys;
    mapping(bytes32 key => uint256 position) private _positions;

    /// @notice Registers a service under the caller, or replaces the caller's service of that name.
    function register(Service calldata s) external {
        _upsert(s);
    }

    /// @notice The same as `register`: one upsert under both names, so callers can say what they mean.
    function upsert(Service calldata s) external {
        _upsert(s);
    }

    /// @notice Removes the caller's service of that name.
    function remove(string calldata name) external {
        bytes32 key = _key(msg.sender, name);
        uint256 position = _positions[key];
        if (position == 0) revert UnknownService(msg.sender, name);
        bytes32 last = _keys[_keys.length - 1];
        _keys[position - 1] = last;
        _positions[last] = position;
        _keys.pop();
        delete _positions[key];
        delete _records[key];
        emit ServiceRemoved(msg.sender, name);
    }

    /// @notice Every live service, in no particular order.
    function services() external view returns (ServiceRecord[] memory list) {
        uint256 count = _keys.length;
        list = new ServiceRecord[](count);
        for (uint256 i = 0; i < count; i++) {
            list[i] = _records[_keys[i]];
        }
    }

    function service(address provider, string calldata name) external view returns (ServiceRecord memory) {
        bytes32 key = _key(provider, name);
        if (_positions[key] == 0) revert UnknownService(provider, name);
        return _records[key];
    }

    function _upsert(Service calldata s) private {
        _checkField(s.name, "name");
        _checkField(s.serviceType, "serviceType");
        _checkField(s.url, "url");
        _checkField(s.model, "model");
        _checkField(s.verifiability, "verifiability");
        bytes32 key = _key(msg.sender, s.name);
        if (_positions[key] == 0) {
            _keys.push(key);
            _positions[key] = _keys.length;
        }
        _records[key] = ServiceRecord({
            provider: msg.sender,
            name: s.name,
            serviceType: s.serviceType,
            url: s.url,
            model: s.model,
            inputPricePerToken: s.inputPricePerToken,
            outputPricePerToken: s.outputPricePerToken,
            verifiability: s.verifiability,
            updatedAt: block.timestamp
        });
        emit ServiceRegistered(msg.sender, s.name, s);
    }

    /// abi.encode, not encodePacked: the name is variable-length and must not run into the address.
    function _key(address provider, string calldata name) private pure returns (bytes32) {
        return keccak256(abi.encode(provider, name));
    }

    function _checkField(string calldata value, string memory field) private pure {
        uint256 length = bytes(value).length;
        if (length == 0) revert EmptyField(field);
        if (length > MAX_FIELD_BYTES) revert FieldTooLong(field);
    }
}
