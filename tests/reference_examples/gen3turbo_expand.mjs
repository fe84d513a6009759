const videoAssetId = "video asset";      
const apiUrl = `https://api.useapi.net/v1/runwayml/gen3turbo/expand`; 
const token = "API token";
const data = { 
  method: 'POST',
  headers: {
    'Authorization': `Bearer ${token}`,
    'Content-Type': 'application/json' }
};
data.body = JSON.stringify({ 
  videoAssetId
});
const response = await fetch(apiUrl, data);
const result = await response.json();
console.log("response", {response, result});
