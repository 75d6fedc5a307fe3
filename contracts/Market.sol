// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What a Flow needs from its market: the price to quote, and somewhere to pay it.
interface IMarket {
    function pricePerSector() external view returns (uint256);

    /// @notice Takes the fee (msg.value) for `sectors` sectors of flow space.
    function chargeFee(uint256 sectors) external payable;
}

/// @title Market
/// @notice A fixed-price storage market in the spirit of 0G's FixedPrice: one price per 256-byte
///         sector, set by the owner, paid by the Flow on behalf of its submitters. Fees collect
///         here until the owner withdraws them; Levity's devnet has no reward pools.
contract Market is IMarket {
    /// @notice The deployer. Immutable: a devnet market has no reason to change hands, and an
    ///         owner that cannot change is one less thing to audit.
    address public immutable owner;
    /// @notice The only contract allowed to pay fees in. The owner may rebind it, because the
    ///         Flow can be redeployed (a changed source) while this market and its balance stay.
    address public flow;
    uint256 public pricePerSector;
    /// @notice Every fee ever received, in wei; withdrawals do not lower it.
    uint256 public totalFees;

    error NotOwner(address caller);
    error NotFlow(address caller);
    error ZeroAddress();
    error InsufficientBalance(uint256 requested, uint256 available);
    error TransferFailed(address to, uint256 amount);

    event PricePerSectorChanged(uint256 previousPrice, uint256 newPrice);
    event FlowChanged(address indexed previousFlow, address indexed newFlow);
    event FeesCharged(uint256 sectors, uint256 amount);
    event Withdrawn(address indexed to, uint256 amount);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor(uint256 initialPrice) {
        owner = msg.sender;
        pricePerSector = initialPrice;
        emit PricePerSectorChanged(0, initialPrice);
    }

    function setPricePerSector(uint256 newPrice) external onlyOwner {
        emit PricePerSectorChanged(pricePerSector, newPrice);
        pricePerSector = newPrice;
    }

    function setFlow(address newFlow) external onlyOwner {
        if (newFlow == address(0)) revert ZeroAddress();
        emit FlowChanged(flow, newFlow);
        flow = newFlow;
    }

    /// @dev Trusts the flow for the amount: it priced the sectors with this market's price in the
    ///      same transaction, so re-checking here would only cost gas.
    function chargeFee(uint256 sectors) external payable {
        if (msg.sender != flow) revert NotFlow(msg.sender);
        totalFees += msg.value;
        emit FeesCharged(sectors, msg.value);
    }

    function withdraw(address to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert ZeroAddress();
        if (amount > address(this).balance) revert InsufficientBalance(amount, address(this).balance);
        emit Withdrawn(to, amount);
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
