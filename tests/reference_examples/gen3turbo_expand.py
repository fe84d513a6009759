import requests
videoAssetId = "video asset"      
apiUrl = f"https://api.useapi.net/v1/runwayml/gen3turbo/expand" 
token = "API token"
headers = {
    "Content-Type": "application/json", 
    "Authorization" : f"Bearer {token}"
}
body = {
    "videoAssetId": f"{videoAssetId}"
}
response = requests.post(apiUrl, headers=headers, json=body)
print(response, response.json())
