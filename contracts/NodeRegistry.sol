// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title NodeRegistry
/// @notice On-chain directory of Levity nodes, so that nodes on different hosts can find each
///         other by role ("storage-node", "indexer", "su", ...). Anyone may register; each node
///         is then controlled by its operator only.
contract NodeRegistry {
    struct Node {
        uint256 id;
        address operator;
        // Ordered so that operator, active and registeredAt share one storage slot.
        bool active;
        uint64 registeredAt;
        uint64 updatedAt;
        string role;
        string url;
    }

    uint256 internal constant MAX_FIELD_BYTES = 256;

    error NotOperator(uint256 id, address caller);
    error UnknownNode(uint256 id);
    error NodeInactive(uint256 id);
    error EmptyField(string field);
    error FieldTooLong(string field);
    error ZeroAddress();

    event NodeRegistered(uint256 indexed id, address indexed operator, string role, string url);
    event NodeUpdated(uint256 indexed id, string url);
    event NodeDeregistered(uint256 indexed id);
    event OperatorTransferred(uint256 indexed id, address indexed from, address indexed to);

    uint256 private _count;
    mapping(uint256 id => Node) private _nodes;

    // Active ids per keccak256(role) and per operator. Removal is swap-and-pop with a stored
    // position, so both lists hold only active nodes: views stay proportional to what they
    // return instead of growing with every node ever registered, and an id transferred away and
    // back cannot appear twice in an operator's list.
    mapping(bytes32 roleHash => uint256[] ids) private _byRole;
    mapping(address operator => uint256[] ids) private _byOperator;
    mapping(uint256 id => uint256 position) private _rolePosition;
    mapping(uint256 id => uint256 position) private _operatorPosition;

    modifier onlyOperatorOfActive(uint256 id) {
        Node storage node = _existing(id);
        if (node.operator != msg.sender) revert NotOperator(id, msg.sender);
        if (!node.active) revert NodeInactive(id);
        _;
    }

    /// @notice Registers a node operated by the caller and returns its id (ids start at 1).
    function register(string calldata role, string calldata url) external returns (uint256 id) {
        _checkField(role, "role");
        _checkField(url, "url");
        id = ++_count;
        uint64 nowTs = uint64(block.timestamp);
        _nodes[id] = Node({
            id: id,
            operator: msg.sender,
            registeredAt: nowTs,
            updatedAt: nowTs,
            active: true,
            role: role,
            url: url
        });
        _push(_byRole[keccak256(bytes(role))], _rolePosition, id);
        _push(_byOperator[msg.sender], _operatorPosition, id);
        emit NodeRegistered(id, msg.sender, role, url);
    }

    function updateUrl(uint256 id, string calldata url) external onlyOperatorOfActive(id) {
        _checkField(url, "url");
        Node storage node = _nodes[id];
        node.url = url;
        node.updatedAt = uint64(block.timestamp);
        emit NodeUpdated(id, url);
    }

    /// @notice Marks the node inactive for good; it keeps its id and record for history.
    function deregister(uint256 id) external onlyOperatorOfActive(id) {
        Node storage node = _nodes[id];
        node.active = false;
        node.updatedAt = uint64(block.timestamp);
        _remove(_byRole[keccak256(bytes(node.role))], _rolePosition, id);
        _remove(_byOperator[node.operator], _operatorPosition, id);
        emit NodeDeregistered(id);
    }

    function transferOperator(uint256 id, address newOperator) external onlyOperatorOfActive(id) {
        if (newOperator == address(0)) revert ZeroAddress();
        Node storage node = _nodes[id];
        _remove(_byOperator[msg.sender], _operatorPosition, id);
        _push(_byOperator[newOperator], _operatorPosition, id);
        node.operator = newOperator;
        node.updatedAt = uint64(block.timestamp);
        emit OperatorTransferred(id, msg.sender, newOperator);
    }

    function getNode(uint256 id) external view returns (Node memory) {
        return _existing(id);
    }

    /// @notice Active nodes with exactly this role, in no particular order.
    function nodesByRole(string calldata role) external view returns (Node[] memory nodes) {
        uint256[] storage ids = _byRole[keccak256(bytes(role))];
        nodes = new Node[](ids.length);
        for (uint256 i = 0; i < ids.length; i++) {
            nodes[i] = _nodes[ids[i]];
        }
    }

    /// @notice How many nodes were ever registered (active or not); ids run from 1 to this.
    function nodeCount() external view returns (uint256) {
        return _count;
    }

    /// @notice Ids of the active nodes this address operates, in no particular order.
    function nodesOf(address operator) external view returns (uint256[] memory) {
        return _byOperator[operator];
    }

    function _existing(uint256 id) private view returns (Node storage node) {
        if (id == 0 || id > _count) revert UnknownNode(id);
        return _nodes[id];
    }

    function _checkField(string calldata value, string memory field) private pure {
        uint256 length = bytes(value).length;
        if (length == 0) revert EmptyField(field);
        if (length > MAX_FIELD_BYTES) revert FieldTooLong(field);
    }

    function _push(uint256[] storage list, mapping(uint256 => uint256) storage position, uint256 id) private {
        position[id] = list.length;
        list.push(id);
    }

    function _remove(uint256[] storage list, mapping(uint256 => uint256) storage position, uint256 id) private {
        uint256 index = position[id];
        uint256 last = list[list.length - 1];
        list[index] = last;
        position[last] = index;
        list.pop();
        delete position[id];
    }
}
